// The `{{name}}` activities. Build with `weft build`, deploy with
// `weft deploy {{name}}.wasm`; a workflow then calls
// `ctx.activity('{{name}}.hello', 'world')`.
//
// An activity may run more than once (retries, crashes): key side effects on
// `ctx.idempotencyKey`. Return any JSON value; throw a Failure to fail the
// attempt (retried unless non-retryable). Activity names are global on a
// host, so they start with the component's name.

import { defineActivities, Failure } from 'weft-sdk/activity';

export const { activities, execute } = defineActivities({
  '{{name}}.hello'(ctx, name) {
    if (typeof name !== 'string' || name.length === 0) {
      throw Failure.nonRetryable('InvalidInput', 'give a name');
    }
    return `Hello, ${name}! (attempt ${ctx.attempt})`;
  },
});
