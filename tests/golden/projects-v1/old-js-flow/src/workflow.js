// The `old-js-flow` workflow. Build with `weft build`, deploy with
// `weft deploy old-js-flow.wasm`, run with
// `weft start old-js-flow --input '{"name": "world"}' --wait`.
//
// Workflow code is synchronous and deterministic: talk to the world through
// `ctx` (ctx.activity, ctx.sleep, ctx.startChild, signals, ...); Math.random
// and Date.now are replayed from the history. See the weft JavaScript SDK's
// README for the whole API.

import { defineWorkflow } from '../.weft/sdk/workflow.js';

export const { run, handlers, query } = defineWorkflow({
  state: () => ({ greeted: null }),

  queries: {
    greeted: (state) => state.greeted,
  },

  run(ctx, input) {
    const name = input?.name ?? 'world';
    // Durable steps go here, e.g. ctx.activity('old-js-flow.hello', name) or ctx.sleep('1h').
    ctx.state.greeted = name;
    ctx.log(`greeted ${name}`);
    return `Hello, ${name}!`;
  },
});
