// `js-parent`: a JavaScript workflow that composes guests of both languages.
//
// 1. Starts the Rust workflow `hello` as a child and, at the same time, the
//    JavaScript activity `js_reverse` (examples/js/activities); joins both.
// 2. Waits for `wait` of workflow time (default one hour), counting the
//    `poke` signals that arrive meanwhile; the update `add-note` appends a
//    note, the query `status` reads the state at any time.
// 3. Returns what it saw, including `Math.random()` and `Date.now()` before
//    and after the wait: a replay (after a crash) must reproduce them.
//
// Input `{"name": "ada", "wait": "1h"}`.

import { defineWorkflow, Failure } from '../../../guest-sdk/js/src/workflow.js';

export const { run, handlers, query } = defineWorkflow({
  state: () => ({ phase: 'starting', pokes: 0, notes: [], before: null }),

  signals: ['poke'],

  queries: {
    status: (state) => state,
  },

  updates: {
    'add-note': {
      validate(state, note) {
        if (typeof note !== 'string' || note.length === 0) {
          throw Failure.nonRetryable('InvalidNote', 'a note is a non-empty string');
        }
        if (state.phase === 'done') throw Failure.nonRetryable('Closed', 'the workflow is finishing');
      },
      handler(ctx, note) {
        ctx.state.notes.push(note);
        return ctx.state.notes.length;
      },
    },
  },

  run(ctx, { name, wait = '1h' }) {
    const before = { random: Math.random(), now: Date.now(), uuid: crypto.randomUUID() };
    ctx.state.before = before; // `status` shows it: a replay must compute the same

    const child = ctx.startChild('hello', { name });
    const reversed = ctx.startActivity('js_reverse', name, {
      startToCloseTimeout: '10s',
      retry: { maximumAttempts: 3 },
    });
    const [greeting, backwards] = ctx.joinAll([child, reversed]);

    ctx.state.phase = 'waiting';
    const pokes = ctx.signalChannel('poke');
    const timer = ctx.timer(wait);
    while (ctx.select([timer, pokes]) === 1) {
      const by = pokes.receive();
      ctx.state.pokes += 1;
      ctx.log(`poked by ${JSON.stringify(by)}`);
    }
    timer.result();

    ctx.state.phase = 'done';
    const after = { random: Math.random(), now: Date.now(), date: new Date().toISOString() };
    return {
      greeting,
      backwards,
      child: child.handle.toString(),
      pokes: ctx.state.pokes,
      notes: ctx.state.notes,
      before,
      after,
      started_at_ms: ctx.info().startedAtMs,
      history_length: ctx.historyLength(),
    };
  },
});
