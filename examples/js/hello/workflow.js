// `js-hello`: the `hello` workflow in JavaScript, three sequential
// activities from the Rust examples/hello-activities. The benchmarks run it
// next to the Rust `hello` to show what a JS guest costs.
//
// Input `{"name": "world", "delay_ms": 0}`; output `"HELLO, WORLD!"`.

import { defineWorkflow } from '../../../guest-sdk/js/src/workflow.js';

export const { run, handlers, query } = defineWorkflow((ctx, input) => {
  const step = (text) => ({ text, delay_ms: input.delay_ms ?? 0 });
  const greeting = ctx.activity('greet', step(input.name));
  const loud = ctx.activity('shout', step(greeting));
  return ctx.activity('exclaim', step(loud));
});
