// Failures: what a workflow or an activity reports, and what it gets back.
//
// A `Failure` is an Error with the fields of the WIT `failure` record: a
// machine-readable `kind`, a `message` for people, optional JSON `details`,
// and `nonRetryable`. Throwing one from a workflow fails the execution;
// throwing one from an activity fails the attempt (retried unless
// `nonRetryable` or its kind is listed in the retry policy). The host's own
// kinds come back as the subclasses below.

import { encode, decodeDetails } from './json.js';

export class Failure extends Error {
  /**
   * @param {string} kind short machine-readable kind, e.g. `InvalidInput`
   * @param {string} message what went wrong, for a person
   * @param {{details?: any, nonRetryable?: boolean, cause?: any}} [options]
   */
  constructor(kind, message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = String(kind);
    this.details = options.details;
    this.nonRetryable = Boolean(options.nonRetryable);
    /** On an activity's failure as a workflow receives it: `{attempts,
     * retryState, cause}`: attempts that ran, why no other follows
     * (`'maximum-attempts-reached'`, `'non-retryable'`, `'timeout'`,
     * `'cancelled'`), the last attempt's own Failure (none for a
     * cancellation). Undefined on any other failure. */
    this.activity = undefined;
  }

  /** A failure the host does not retry. */
  static nonRetryable(kind, message, options = {}) {
    return new Failure(kind, message, { ...options, nonRetryable: true });
  }

  /** The failure of a cancelled operation; throwing it from a cancelled
   * workflow ends the execution as `cancelled`. */
  static cancelled(what) {
    return new CancelledFailure(`${what} was cancelled`);
  }

  /** Any thrown value as a Failure: a Failure stays itself, another Error
   * keeps its name as the kind (retryable), anything else becomes `Error`. */
  static from(err) {
    if (err instanceof Failure) return err;
    if (err instanceof Error) {
      return new Failure(err.name || 'Error', err.message, { cause: err });
    }
    return new Failure('Error', String(err));
  }

  get isCancelled() {
    return this.kind === 'cancelled';
  }

  /** Sets the details (any JSON value) and returns the failure. */
  withDetails(details) {
    this.details = details;
    return this;
  }

  toString() {
    return `${this.kind}: ${this.message}`;
  }

  toJSON() {
    const out = { kind: this.kind, message: this.message };
    if (this.details !== undefined) out.details = this.details;
    out.non_retryable = this.nonRetryable;
    return out;
  }

  /** The WIT `failure` record (details as JSON bytes). */
  toWit() {
    return {
      kind: this.kind,
      message: this.message,
      details: this.details === undefined ? undefined : encode(this.details),
      nonRetryable: this.nonRetryable,
    };
  }

  /** A WIT `failure` record as the matching class. */
  static fromWit(rec) {
    const options = {
      details: rec.details === undefined ? undefined : decodeDetails(rec.details),
      nonRetryable: rec.nonRetryable,
    };
    const Kind = KINDS[rec.kind];
    if (Kind) return new Kind(rec.message, options);
    return new Failure(rec.kind, rec.message, options);
  }
}

/** Kind `cancelled`: a cancelled timer, activity, child or workflow. */
export class CancelledFailure extends Failure {
  constructor(message = 'cancelled', options = {}) {
    super('cancelled', message, { nonRetryable: true, ...options });
  }
}

/** Kind `timeout`: an activity timed out; `details.timeout` says which limit
 * (`start-to-close`, `heartbeat`, `schedule-to-close`, `schedule-to-start`). */
export class TimeoutFailure extends Failure {
  constructor(message, options = {}) {
    super('timeout', message, options);
  }
  get timeoutType() {
    return this.details && this.details.timeout;
  }
}

/** Kind `activity-not-found`: no deployed activity component serves the name. */
export class ActivityNotFoundFailure extends Failure {
  constructor(message, options = {}) {
    super('activity-not-found', message, options);
  }
}

/** Kind `activity-trap`: the activity crashed (a trap, not a failure). */
export class ActivityTrapFailure extends Failure {
  constructor(message, options = {}) {
    super('activity-trap', message, options);
  }
}

/** Kind `InvalidInput`: an input that is not the JSON expected; never retried. */
export class InvalidInputFailure extends Failure {
  constructor(message, options = {}) {
    super('InvalidInput', message, { nonRetryable: true, ...options });
  }
}

const KINDS = {
  cancelled: CancelledFailure,
  timeout: TimeoutFailure,
  'activity-not-found': ActivityNotFoundFailure,
  'activity-trap': ActivityTrapFailure,
  InvalidInput: InvalidInputFailure,
};
