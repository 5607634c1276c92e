// The `{{name}}` workflow, in TypeScript. `weft build` type-checks it (tsc),
// bundles it (esbuild) and builds the component; deploy with
// `weft deploy {{name}}.wasm`, run with
// `weft start {{name}} --input '{"name": "world"}' --wait`.
//
// Workflow code is synchronous and deterministic: talk to the world through
// `ctx` (ctx.activity, ctx.sleep, ctx.startChild, signals, ...); Math.random
// and Date.now are replayed from the history. See the weft JavaScript SDK's
// README for the whole API; its types come with the package (weft-sdk).

import { defineWorkflow } from 'weft-sdk/workflow';

interface Input {
  name?: string;
}

interface State {
  greeted: string | null;
}

export const { run, handlers, query } = defineWorkflow({
  state: (): State => ({ greeted: null }),

  queries: {
    greeted: (state: State) => state.greeted,
  },

  run(ctx, input: Input | null): string {
    const name = input?.name ?? 'world';
    // Durable steps go here, e.g. ctx.activity<string>('{{name}}.hello', name) or ctx.sleep('1h').
    ctx.state.greeted = name;
    ctx.log(`greeted ${name}`);
    return `Hello, ${name}!`;
  },
});
