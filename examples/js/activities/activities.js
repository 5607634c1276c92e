// `js-activities`: activities written in JavaScript, callable from a workflow
// in any language. Each prints one line per attempt,
// `effect key=<idempotency key> activity=<name> attempt=<n> output=<output>`,
// like examples/hello-activities, which the host logs.
//
// Names start with `js_`: activity names are global on a host.

import { defineActivities, Failure } from '../../../guest-sdk/js/src/activity.js';

function effect(ctx, output) {
  console.log(`effect key=${ctx.idempotencyKey} activity=${ctx.name} attempt=${ctx.attempt} output=${output}`);
  return output;
}

export const { activities, execute } = defineActivities({
  /** `"abc"` -> `"cba"`. */
  js_reverse(ctx, text) {
    if (typeof text !== 'string') {
      throw Failure.nonRetryable('InvalidInput', `js_reverse takes a string, not ${JSON.stringify(text)}`);
    }
    return effect(ctx, [...text].reverse().join(''));
  },

  /** `{"text": "a b c"}` -> `{"words": 3, "chars": 5}`. */
  js_stats(ctx, { text }) {
    const words = text.split(/\s+/).filter((w) => w.length > 0).length;
    effect(ctx, `${words} words`);
    return { words, chars: [...text].length };
  },

  /** Fails its first `fail_times` attempts (retryable), or for good with
   * `fatal`: shows how a thrown Failure maps to the WIT failure. */
  js_flaky(ctx, { fail_times = 0, fatal = false }) {
    if (fatal) {
      throw Failure.nonRetryable('Fatal', 'asked to fail for good', { details: { attempt: ctx.attempt } });
    }
    if (ctx.attempt <= fail_times) {
      throw new Failure('Flaky', `attempt ${ctx.attempt} fails on purpose`);
    }
    effect(ctx, String(ctx.attempt));
    return ctx.attempt;
  },

  /** Counts to `to`, heartbeating each step; a later attempt resumes from the
   * last heartbeat. Stops when the workflow cancels it. */
  js_count(ctx, { to }) {
    let n = ctx.heartbeatDetails ?? 0;
    while (n < to) {
      n += 1;
      if (ctx.heartbeat(n)) throw Failure.cancelled('js_count');
    }
    effect(ctx, String(n));
    return { counted: n, attempt: ctx.attempt };
  },
});
