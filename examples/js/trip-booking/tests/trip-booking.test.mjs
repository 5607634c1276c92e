// Tests of the JavaScript trip-booking saga with weft's test environment,
// under Node's own test runner:
//
//   WEFT_GUESTS=target/guests node --test examples/js/trip-booking/tests/
//
// with `weft` on PATH (or WEFT_BIN). TRIP_WASM names the built component
// (default: js-trip-booking.wasm in WEFT_GUESTS, where `cargo xtask guests`
// puts it).

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  ActivityError, WorkflowFailed, replay, withEnvironment,
} from '../../../../guest-sdk/js/weft-testing.mjs';

const WASM = process.env.TRIP_WASM ?? join(process.env.WEFT_GUESTS ?? '.', 'js-trip-booking.wasm');

/** Mocks of the six booking activities, recording each call in `calls`. */
function bookings(calls, overrides = {}) {
  const mock = (name, answer) => (ctx, input) => {
    calls.push(`${name}#${ctx.attempt}`);
    return (overrides[name] ?? answer)(ctx, input);
  };
  const ref = (prefix) => (ctx, trip) => ({ reference: `${prefix}-${trip.traveller}` });
  return {
    book_flight: mock('book_flight', ref('F')),
    book_hotel: mock('book_hotel', ref('H')),
    book_car: mock('book_car', ref('C')),
    cancel_flight: mock('cancel_flight', () => null),
    cancel_hotel: mock('cancel_hotel', () => null),
    cancel_car: mock('cancel_car', () => null),
  };
}

function withEnv(mocks, body) {
  return withEnvironment({ modules: [[WASM, 'trip-booking']], mocks }, body);
}

test('a trip is booked: three references', async () => {
  const calls = [];
  await withEnv(bookings(calls), async (env) => {
    const id = await env.startWorkflow('trip-booking', { traveller: 'ada' });
    assert.deepEqual(await env.result(id), ['F-ada', 'H-ada', 'C-ada']);
    assert.deepEqual(calls, ['book_flight#1', 'book_hotel#1', 'book_car#1']);
  });
});

test('no car: the hotel and the flight are cancelled, in reverse order', async () => {
  const calls = [];
  const noCar = () => { throw new ActivityError('unavailable', 'no cars left', { nonRetryable: true }); };
  await withEnv(bookings(calls, { book_car: noCar }), async (env) => {
    const id = await env.startWorkflow('trip-booking', { traveller: 'bo' });
    await assert.rejects(env.result(id), (e) => e instanceof WorkflowFailed && /no cars left/.test(e.message));
    assert.deepEqual(calls, ['book_flight#1', 'book_hotel#1', 'book_car#1', 'cancel_hotel#1', 'cancel_flight#1']);
  });
});

test('a compensation that fails twice is retried; the backoff is skipped, not waited for', async () => {
  const calls = [];
  const noCar = () => { throw new ActivityError('unavailable', 'no cars left', { nonRetryable: true }); };
  const flaky = (ctx) => {
    if (ctx.attempt < 3) throw new ActivityError('hotel-down', 'try later');
    return null;
  };
  await withEnv(bookings(calls, { book_car: noCar, cancel_hotel: flaky }), async (env) => {
    const started = Date.now();
    const before = await env.nowMs();
    const id = await env.startWorkflow('trip-booking', { traveller: 'cy' });
    await assert.rejects(env.result(id), WorkflowFailed);
    assert.deepEqual(calls.filter((c) => c.startsWith('cancel_hotel')), ['cancel_hotel#1', 'cancel_hotel#2', 'cancel_hotel#3']);
    assert.ok((await env.nowMs()) > before, 'workflow time moved through the backoffs');
    assert.ok(Date.now() - started < 30_000);
  });
});

test('the history replays against the component', async () => {
  await withEnv(bookings([]), async (env) => {
    const id = await env.startWorkflow('trip-booking', { traveller: 'di' });
    await env.result(id);
    const dir = mkdtempSync(join(tmpdir(), 'trip-histories-'));
    writeFileSync(join(dir, 'di.json'), JSON.stringify(await env.history(id)));
    assert.match(replay(WASM, dir), /1 clean/);
  });
});

test('an activity nobody serves fails the wait at once, naming it', async () => {
  const mocks = bookings([]);
  delete mocks.book_hotel;
  await withEnv(mocks, async (env) => {
    const id = await env.startWorkflow('trip-booking', { traveller: 'ed' });
    const started = Date.now();
    await assert.rejects(env.result(id), /activity book_hotel, which no deployed component and no mock serves/);
    assert.ok(Date.now() - started < 10_000);
  });
});

test('a trip cancelled while the car is booked is compensated', async () => {
  const calls = [];
  let release;
  const carBooked = new Promise((r) => { release = r; });
  const slowCar = async (ctx, trip) => { await carBooked; return { reference: `C-${trip.traveller}` }; };
  await withEnv(bookings(calls, { book_car: slowCar }), async (env) => {
    const id = await env.startWorkflow('trip-booking', { traveller: 'fay' });
    while (!calls.includes('book_car#1')) await new Promise((r) => setTimeout(r, 10));
    await env.cancel(id, 'changed plans');
    release();
    await assert.rejects(env.result(id), (e) => e instanceof WorkflowFailed && e.status === 'cancelled');
    assert.deepEqual(calls.slice(3).sort(), ['cancel_flight#1', 'cancel_hotel#1']);
  });
});
