// The activity side of the weft JavaScript SDK.
//
//   import { defineActivities, Failure } from '<sdk>/activity.js';
//   export const { activities, execute } = defineActivities({
//     js_reverse(ctx, text) { return [...text].reverse().join(''); },
//   });
//
// An activity is where side effects happen. It may run more than once (the
// host retries failures and re-runs attempts a crash interrupted), so key its
// effects on `ctx.idempotencyKey`. It returns its output (any JSON value) or
// throws: a `Failure` as it is, any other Error as a retryable failure whose
// kind is the error's name. An activity may be `async` (for `fetch`, which
// the host allows only to the hosts opened at deploy with `--allow-http`).

import * as actx from 'weft:workflow/activity-context@0.1.3';
import { encode, decode } from './json.js';
import { Failure, InvalidInputFailure } from './failure.js';

export {
  Failure,
  CancelledFailure,
  TimeoutFailure,
  ActivityNotFoundFailure,
  ActivityTrapFailure,
  InvalidInputFailure,
} from './failure.js';

/** What the host says about the attempt being run. */
export class ActivityContext {
  constructor(info) {
    this.executionId = info.executionId;
    /** The handle the workflow scheduled this activity under (a BigInt). */
    this.activityHandle = info.activityHandle;
    this.name = info.name;
    /** 1 for the first attempt. */
    this.attempt = info.attempt;
    /** The same on every attempt of one scheduled activity
     * (`<execution id>/<handle>`): key side effects on it. */
    this.idempotencyKey = info.idempotencyKey;
    this._details = info.heartbeatDetails;
  }

  /** The details of the last heartbeat of an earlier attempt (where to
   * resume), or undefined on a first attempt or when they are not JSON. */
  get heartbeatDetails() {
    if (this._details === undefined) return undefined;
    try {
      return decode(this._details);
    } catch {
      return undefined;
    }
  }

  /** Records progress (kept durably, handed to the next attempt) and keeps a
   * heartbeat timeout from firing. Returns true when the activity was
   * cancelled: it should stop (throw `Failure.cancelled(...)`). */
  heartbeat(details) {
    return actx.heartbeat(details === undefined ? undefined : encode(details));
  }
}

function failed(e) {
  return { tag: 'err', val: Failure.from(e).toWit() };
}

/**
 * Defines the activities of this component and returns its two exports:
 *
 *   export const { activities, execute } = defineActivities({ name(ctx, input) { ... } });
 *
 * Each key is an activity name, as workflows call it; names are global on a
 * host (the last component deployed serving a name serves it), so prefix
 * them to avoid clashes.
 */
export function defineActivities(fns) {
  const names = Object.keys(fns);
  for (const n of names) {
    if (typeof fns[n] !== 'function') throw new TypeError(`activity \`${n}\` is not a function`);
  }
  if (names.length === 0) throw new TypeError('defineActivities needs at least one activity');
  return {
    activities() {
      return names.slice();
    },

    execute(name, inputBytes) {
      if (!Object.prototype.hasOwnProperty.call(fns, name)) {
        return failed(
          Failure.nonRetryable(
            'activity-not-found',
            `this component does not serve \`${name}\`; it serves: ${names.join(', ')}`,
          ),
        );
      }
      let input;
      try {
        input = decode(inputBytes);
      } catch (e) {
        return failed(new InvalidInputFailure(`the input of activity \`${name}\` is not the JSON expected: ${e.message}`));
      }
      const done = (output) => {
        try {
          return { tag: 'ok', val: encode(output) };
        } catch (e) {
          return failed(Failure.nonRetryable('InvalidOutput', e.message));
        }
      };
      try {
        const ctx = new ActivityContext(actx.info());
        const out = fns[name](ctx, input);
        if (out !== null && typeof out === 'object' && typeof out.then === 'function') {
          return out.then(done, failed);
        }
        return done(out);
      } catch (e) {
        return failed(e);
      }
    },
  };
}
