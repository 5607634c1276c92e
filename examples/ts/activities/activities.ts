// `ts-activities`: the TypeScript twin of examples/js/activities (names
// prefixed `ts_` so both may be deployed on one host): activities
// written in TypeScript, callable from a workflow in any language.

import { defineActivities, Failure, type ActivityContext } from '../../../guest-sdk/js/src/activity.js';

function effect<T>(ctx: ActivityContext<unknown>, output: T): T {
  console.log(`effect key=${ctx.idempotencyKey} activity=${ctx.name} attempt=${ctx.attempt} output=${String(output)}`);
  return output;
}

export const { activities, execute } = defineActivities({
  /** `"abc"` -> `"cba"`. */
  ts_reverse(ctx, text) {
    if (typeof text !== 'string') {
      throw Failure.nonRetryable('InvalidInput', `ts_reverse takes a string, not ${JSON.stringify(text)}`);
    }
    return effect(ctx, [...text].reverse().join(''));
  },

  /** `{"text": "a b c"}` -> `{"words": 3, "chars": 5}`. */
  ts_stats(ctx, { text }: { text: string }) {
    const words = text.split(/\s+/).filter((w) => w.length > 0).length;
    effect(ctx, `${words} words`);
    return { words, chars: [...text].length };
  },

  /** Fails its first `fail_times` attempts (retryable), or for good with `fatal`. */
  ts_flaky(ctx, { fail_times = 0, fatal = false }: { fail_times?: number; fatal?: boolean }) {
    if (fatal) {
      throw Failure.nonRetryable('Fatal', 'asked to fail for good', { details: { attempt: ctx.attempt } });
    }
    if (ctx.attempt <= fail_times) {
      throw new Failure('Flaky', `attempt ${ctx.attempt} fails on purpose`);
    }
    effect(ctx, String(ctx.attempt));
    return ctx.attempt;
  },

  /** Counts to `to`, heartbeating each step; a later attempt resumes from the last heartbeat. */
  ts_count(ctx: ActivityContext<number>, { to }: { to: number }) {
    let n = ctx.heartbeatDetails ?? 0;
    while (n < to) {
      n += 1;
      if (ctx.heartbeat(n)) throw Failure.cancelled('ts_count');
    }
    effect(ctx, String(n));
    return { counted: n, attempt: ctx.attempt };
  },
});
