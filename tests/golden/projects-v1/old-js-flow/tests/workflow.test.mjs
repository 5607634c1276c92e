// Tests of the `old-js-flow` workflow: run `weft build`, then `node --test tests/`.
//
// The test environment (.weft/sdk/weft-testing.mjs) starts a private weft host
// per environment (`weft` on PATH, or WEFT_BIN) with a manual clock:
// `env.skip('30d')` takes milliseconds, and `mocks: { name: (ctx, input) => ... }`
// stands in for activities. See the weft README, "Testing workflows".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { withEnvironment } from '../.weft/sdk/weft-testing.mjs';

const WASM = fileURLToPath(new URL('../old-js-flow.wasm', import.meta.url));

test('it greets and remembers whom', () => withEnvironment({ modules: [[WASM, 'old-js-flow']] }, async (env) => {
  const id = await env.startWorkflow('old-js-flow', { name: 'world' });
  assert.equal(await env.result(id), 'Hello, world!');
  assert.equal(await env.query(id, 'greeted'), 'world');
}));
