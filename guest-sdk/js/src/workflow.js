// The workflow side of the weft JavaScript SDK.
//
//   import { defineWorkflow } from '<sdk>/workflow.js';
//   export const { run, handlers, query } = defineWorkflow((ctx, input) => {
//     const greeting = ctx.activity('greet', { text: input.name });
//     ctx.sleep('1h');
//     return greeting;
//   });
//
// Everything is synchronous: a command (`startActivity`, `timer`,
// `startChild`) returns a `Pending` at once, and `join`/`select` block inside
// the host's `wait` import until the host delivers a completion. There are no
// Promises, so the order of events is the order of the code, on every replay.
//
// Determinism: `Math.random` (and `crypto.getRandomValues`/`randomUUID`) draw
// from a stream seeded from the run's recorded seed; `Date.now()`/`new Date()`
// read workflow time, which the host serves through the WASI wall clock.

import * as rt from 'weft:workflow/runtime@0.1.3';
import { encode, decode, millis } from './json.js';
import { Failure, InvalidInputFailure } from './failure.js';
import { searchAttributeList, memoList, searchAttributesFromWit, memoFromWit } from './search.js';

export {
  Failure,
  CancelledFailure,
  TimeoutFailure,
  ActivityNotFoundFailure,
  ActivityTrapFailure,
  InvalidInputFailure,
} from './failure.js';
export { millis } from './json.js';
export { searchValue } from './search.js';

// ---------------------------------------------------------------------------
// Deterministic randomness.

/** xoshiro128** over four 32-bit words, seeded through splitmix32. */
class Rng {
  constructor(seed) {
    this.reseed(seed);
  }

  reseed(seed) {
    let s = Number(BigInt.asUintN(32, BigInt(seed))) ^ Number(BigInt.asUintN(32, BigInt(seed) >> 32n));
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = [next(), next(), next(), next()];
  }

  nextU32() {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A double in [0, 1) with 53 random bits. */
  nextFloat() {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  save() {
    return this.s.slice();
  }

  restore(saved) {
    this.s = saved.slice();
  }
}

function rotl(x, k) {
  return (x << k) | (x >>> (32 - k));
}

const rng = new Rng(0n);

function fillRandom(array) {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i += 4) {
    let word = rng.nextU32();
    for (let j = i; j < Math.min(i + 4, bytes.length); j++) {
      bytes[j] = word & 0xff;
      word >>>= 8;
    }
  }
  return array;
}

function randomUUID() {
  const b = fillRandom(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Installed when the module loads (at build time, inside the snapshot), so
// user code never sees the engine's own generator, which draws on WASI
// randomness in an order the SDK does not control.
Math.random = function random() {
  return rng.nextFloat();
};
if (typeof globalThis.crypto === 'object' && globalThis.crypto !== null) {
  for (const [name, fn] of [
    ['getRandomValues', fillRandom],
    ['randomUUID', randomUUID],
  ]) {
    try {
      Object.defineProperty(globalThis.crypto, name, { value: fn, writable: true, configurable: true });
    } catch {
      // Left as the engine's: it still reads the run's seeded WASI stream.
    }
  }
}

// Timers of the JS event loop would run on the host's real clock, outside the
// history: workflow code waits with ctx.sleep / ctx.timer instead.
for (const name of ['setTimeout', 'setInterval']) {
  globalThis[name] = function () {
    throw new Error(`${name} is not available in workflow code: use ctx.sleep(ms) or ctx.timer(ms)`);
  };
}

// ---------------------------------------------------------------------------
// Options.

const PARENT_CLOSE = {
  terminate: 'terminate',
  'request-cancel': 'request-cancel',
  requestCancel: 'request-cancel',
  abandon: 'abandon',
};

/** The host's default retry policy, spelled out: 1 s, doubling, capped at
 * 100 s, unlimited attempts. Fields left out of a given policy take these. */
export const DEFAULT_RETRY_POLICY = Object.freeze({
  initialInterval: 1000,
  backoffCoefficient: 2.0,
  maximumInterval: 100000,
  maximumAttempts: 0,
  nonRetryableKinds: [],
});

/** The cancellation types (Temporal's): what `ctx.cancel` does to an
 * activity or a child and to the code joining it. */
const CANCELLATION_TYPES = ['try-cancel', 'wait-cancellation-completed', 'abandon'];

/** `value` (undefined, or one of CANCELLATION_TYPES) checked. */
function cancellationType(value) {
  if (value === undefined || value === null) return undefined;
  if (!CANCELLATION_TYPES.includes(value)) {
    throw new TypeError(`unknown cancellationType \`${value}\` (${CANCELLATION_TYPES.join(', ')})`);
  }
  return value;
}

function optionalMs(v) {
  return v === undefined || v === null ? undefined : BigInt(millis(v));
}

/**
 * Activity options (all optional; durations in ms or as strings like "30s"):
 * `{ retry: { initialInterval, backoffCoefficient, maximumInterval,
 * maximumAttempts, nonRetryableKinds }, startToCloseTimeout,
 * scheduleToCloseTimeout, scheduleToStartTimeout, heartbeatTimeout,
 * taskQueue, cancellationType }`; `cancellationType` is 'try-cancel' (the
 * default), 'wait-cancellation-completed' or 'abandon' (see `ctx.cancel`).
 */
function activityOptions(o) {
  o = o ?? {};
  const known = new Set([
    'retry',
    'startToCloseTimeout',
    'scheduleToCloseTimeout',
    'scheduleToStartTimeout',
    'heartbeatTimeout',
    'taskQueue',
    'cancellationType',
  ]);
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new TypeError(`unknown activity option \`${k}\` (known: ${[...known].join(', ')})`);
  }
  let retry;
  if (o.retry) {
    const given = Object.fromEntries(Object.entries(o.retry).filter(([, v]) => v !== undefined));
    const r = { ...DEFAULT_RETRY_POLICY, ...given };
    retry = {
      initialIntervalMs: BigInt(millis(r.initialInterval)),
      backoffCoefficient: Number(r.backoffCoefficient),
      maximumIntervalMs: BigInt(millis(r.maximumInterval)),
      maximumAttempts: Number(r.maximumAttempts),
      nonRetryableKinds: [...r.nonRetryableKinds].map(String),
    };
  }
  return {
    retry,
    startToCloseTimeoutMs: optionalMs(o.startToCloseTimeout),
    scheduleToCloseTimeoutMs: optionalMs(o.scheduleToCloseTimeout),
    scheduleToStartTimeoutMs: optionalMs(o.scheduleToStartTimeout),
    heartbeatTimeoutMs: optionalMs(o.heartbeatTimeout),
    taskQueue: o.taskQueue === undefined || o.taskQueue === null ? undefined : String(o.taskQueue),
  };
}

/** Child options: `{ id, parentClosePolicy: 'terminate' | 'request-cancel' | 'abandon' }`. */
function childOptions(o) {
  o = o ?? {};
  const policy = PARENT_CLOSE[o.parentClosePolicy ?? 'terminate'];
  if (!policy) {
    throw new TypeError(`unknown parentClosePolicy \`${o.parentClosePolicy}\` (terminate, request-cancel, abandon)`);
  }
  return {
    id: o.id === undefined || o.id === null ? undefined : String(o.id),
    parentClosePolicy: policy,
  };
}

// ---------------------------------------------------------------------------
// Pending commands and signal channels.

/**
 * A command started but not yet joined: an activity, a timer or a child.
 * Commands are committed (and start) at the next wait of the workflow: a
 * `join`, `select` or `sleep`. One left unjoined still runs if the workflow
 * waits on anything afterwards.
 */
export class Pending {
  constructor(ctx, handle, what) {
    this._ctx = ctx;
    /** The host's handle for this command, as the history shows it (a BigInt). */
    this.handle = handle;
    this.what = what;
    this._settled = undefined;
  }

  /** Waits for the command and returns its output; throws its Failure. */
  result() {
    return this._ctx.join(this);
  }

  _selectHandle() {
    return this.handle;
  }

  _isReady() {
    return this._settled !== undefined || this._ctx._ready.has(this.handle);
  }
}

/**
 * The signals of one name, in the order they were sent. Receive with
 * `receive()`, or race it with timers and activities in `ctx.select`; a
 * receive that loses a select stays armed, so no signal is skipped.
 */
export class SignalChannel {
  constructor(ctx, name) {
    this._ctx = ctx;
    this.name = name;
    this._armed = undefined;
  }

  /** Waits for the next signal and returns its input. */
  receive() {
    return this._ctx.receive(this);
  }

  /** The next signal if one is waiting, else `undefined` (see `ctx.tryReceive`). */
  tryReceive() {
    return this._ctx.tryReceive(this);
  }

  _selectHandle() {
    if (this._armed === undefined) {
      this._armed = rt.receiveSignal(this.name);
      this._ctx._receives.add(this._armed);
    }
    return this._armed;
  }

  _take() {
    const h = this._selectHandle();
    this._armed = undefined;
    return h;
  }

  _isReady() {
    return this._armed !== undefined && this._ctx._ready.has(this._armed);
  }
}

// ---------------------------------------------------------------------------
// The context.

function decodeOutput(what, bytes) {
  try {
    return decode(bytes);
  } catch (e) {
    // A bug in the code or a mismatch between workflow and activity, not a
    // failure of the command: trap, so the execution stalls until a fix.
    throw new Error(`the output of ${what} is not JSON: ${e.message}`);
  }
}

function decodeInput(what, bytes) {
  try {
    return decode(bytes);
  } catch (e) {
    throw new InvalidInputFailure(`${what} is not the JSON expected: ${e.message}`);
  }
}

/** A thrown value on one line: `TypeError: x is undefined (at run@src/workflow.js:12:5)`. */
function describe(value) {
  if (value instanceof Error) {
    const frame = typeof value.stack === 'string' ? value.stack.split('\n').find((l) => l.trim()) : undefined;
    return `${value.name}: ${value.message}${frame ? ` (at ${frame.trim()})` : ''}`;
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * What to throw out of an export to trap: the execution stalls (until a fixed
 * module is deployed and upgraded to) with `message` in the stall reason.
 * The bindings of componentize-js turn a thrown value into the export's `err`
 * unless reading its own `payload` property throws; what escapes then traps
 * the guest, and the engine prints it. A string prints on one line, with no
 * stack after it, so it stays within the output tail the host keeps.
 */
function trap(message) {
  const words = `weft: ${message}`;
  return {
    get payload() {
      throw words;
    },
  };
}

/** Whether `v` looks like a Promise (workflow code must be synchronous). */
function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

function noAsync(v, what) {
  if (isThenable(v)) {
    throw new Error(
      `${what} returned a Promise: weft workflow code is synchronous (ctx.activity, ctx.sleep and ` +
        `ctx.join block), so write it without async/await`,
    );
  }
  return v;
}

/** The workflow's door to the host, and the owner of its state. */
export class Ctx {
  constructor(def, state) {
    this._def = def;
    /** The workflow's state: queries see it, updates change it. */
    this.state = state;
    /** Completions delivered before the code asked for them. */
    this._ready = new Map();
    /** How many completions waits handed to the code (a join-all that
     * sees more than its own winner across a wait looks again). */
    this._completions = 0;
    /** Handles of the signal receives issued in this run. */
    this._receives = new Set();
    /** The receive armed for each signal handler: handle -> name. */
    this._handlerReceives = new Map();
    /** The handles of the activities started: their failures carry the
     * host's envelope (`failure.activity`). */
    this._activities = new Set();
    /** A signal handler runs: its waits run no other handler (one after another). */
    this._inSignalHandler = false;
    /** The reason of a requested cancellation, once delivered. */
    this.cancelReason = undefined;
    this._serving = false;
  }

  // --- activities ---------------------------------------------------------

  /** Runs an activity and waits for its output (after retries); throws its final Failure. */
  activity(name, input, options) {
    return this.join(this.startActivity(name, input, options));
  }

  /** Schedules an activity and returns at once; it starts at the next wait. */
  startActivity(name, input, options) {
    this._command('start an activity');
    const kind = cancellationType(options?.cancellationType);
    const handle =
      kind === undefined
        ? rt.startActivity(String(name), encode(input), activityOptions(options))
        : rt.startActivityWith(String(name), encode(input), activityOptions(options), kind);
    this._activities.add(handle);
    return new Pending(this, handle, `activity \`${name}\``);
  }

  /** Cancels what `pending` started, as its `cancellationType` option
   * says. An activity ('try-cancel' by default): joining it throws a
   * CancelledFailure at once, and the activity learns of it at its next
   * heartbeat, with a grace period (its heartbeat timeout, or 10 s) to clean
   * up; it is never retried. 'wait-cancellation-completed' makes the join
   * wait until the activity has ended (its output, its failure, or a
   * CancelledFailure); 'abandon' does not tell the activity at all. A timer
   * completes at once (a CancelledFailure). A child
   * ('wait-cancellation-completed' by default) is asked to cancel (as `weft
   * cancel` would): joining it gives how it ended (a CancelledFailure when
   * it honoured the request); 'try-cancel' asks it and completes the join
   * at once, 'abandon' only completes the join. Cancelling something
   * already done changes nothing. */
  cancel(pending) {
    this._command('cancel');
    rt.cancel(pending.handle);
  }

  /** Sends signal `name` with `input` to the running execution `id` (its
   * current run), as `weft signal` would. Joining the result returns once
   * the signal is recorded there, or throws a `not-found` Failure when no
   * execution of that id runs. Recorded first and delivered once, also
   * across a crash of the host. */
  signalExecution(id, name, input) {
    this._command('signal another execution');
    return new Pending(this, rt.signalExecution(String(id), String(name), encode(input)), `signal \`${name}\``);
  }

  /** `signalExecution` to the child `child` started. */
  signalChild(child, name, input) {
    this._command('signal a child');
    return new Pending(this, rt.signalChild(child.handle, String(name), encode(input)), `signal \`${name}\``);
  }

  /** Asks the running execution `id` to cancel, as `weft cancel` would;
   * completes like `signalExecution`. */
  cancelExecution(id, reason = '') {
    this._command('cancel another execution');
    return new Pending(this, rt.cancelExecution(String(id), String(reason)), `cancel of \`${id}\``);
  }

  // --- timers -------------------------------------------------------------

  /** Starts a durable timer of `duration` workflow time (ms, or "30s", "2h"...). */
  timer(duration) {
    this._command('start a timer');
    const handle = rt.startTimer(BigInt(millis(duration)));
    return new Pending(this, handle, 'timer');
  }

  /** Sleeps for `duration` of workflow time; durable across restarts.
   * Throws a CancelledFailure only when the workflow is cancelled. */
  sleep(duration) {
    this.join(this.timer(duration));
  }

  // --- children -----------------------------------------------------------

  /** Starts a child workflow of any deployed type; join it like an activity.
   * Options: `{ id, parentClosePolicy: 'terminate' | 'request-cancel' | 'abandon', idReusePolicy: 'allow-duplicate' | 'allow-duplicate-failed-only' | 'reject-duplicate', cancellationType: 'wait-cancellation-completed' | 'try-cancel' | 'abandon' }`. */
  startChild(workflowType, input, options) {
    this._command('start a child');
    const reuse = options?.idReusePolicy ?? 'allow-duplicate';
    if (!['allow-duplicate', 'allow-duplicate-failed-only', 'reject-duplicate'].includes(reuse)) {
      throw new TypeError(
        `unknown idReusePolicy \`${reuse}\` (allow-duplicate, allow-duplicate-failed-only, reject-duplicate)`,
      );
    }
    const kind = cancellationType(options?.cancellationType);
    const handle =
      kind !== undefined
        ? rt.startChildWith(String(workflowType), encode(input), childOptions(options), reuse, kind)
        : reuse === 'allow-duplicate'
          ? rt.startChild(String(workflowType), encode(input), childOptions(options))
          : rt.startChildWithReuse(String(workflowType), encode(input), childOptions(options), reuse);
    return new Pending(this, handle, `child \`${workflowType}\``);
  }

  /** Runs a child workflow and waits for its result; throws its failure. */
  child(workflowType, input, options) {
    return this.join(this.startChild(workflowType, input, options));
  }

  // --- signals ------------------------------------------------------------

  /** The channel of the signals named `name` (declare the name in `signals`). */
  signalChannel(name) {
    if (Object.prototype.hasOwnProperty.call(this._def.signalHandlers, name)) {
      throw new Error(`signal \`${name}\` has a handler, which takes every one of them: it has no channel`);
    }
    return new SignalChannel(this, String(name));
  }

  /** Waits for the next signal on `channel` and returns its input. */
  receive(channel) {
    this._command('receive a signal');
    const outcome = this._take(channel._take());
    if (!outcome.ok) throw outcome.failure;
    return decodeInput(`the input of signal \`${channel.name}\``, outcome.bytes);
  }

  /** Takes the next signal on `channel` without waiting, if this workflow
   * task already knows it (it arrived before the task's last wait returned;
   * the store is not read, and the answer is recorded, so a replay gives the
   * same); `undefined` when none is waiting. Drain a channel with it before
   * `continueAsNew`:
   *
   *     for (let o; (o = ctx.tryReceive(orders)) !== undefined; ) pending.push(o);
   *
   * A receive that lost a select stays armed and keeps its place: its
   * signal is returned here once delivered. */
  tryReceive(channel) {
    this._command('receive a signal');
    let outcome;
    if (channel._armed !== undefined) {
      if (!this._ready.has(channel._armed)) return undefined;
      outcome = this._ready.get(channel._armed);
      this._ready.delete(channel._armed);
      channel._armed = undefined;
    } else {
      const bytes = rt.tryReceiveSignal(channel.name);
      if (bytes === undefined || bytes === null) return undefined;
      outcome = { ok: true, bytes };
    }
    if (!outcome.ok) throw outcome.failure;
    return decodeInput(`the input of signal \`${channel.name}\``, outcome.bytes);
  }

  // --- waiting ------------------------------------------------------------

  /** Waits for one pending command and returns its output; throws its Failure. */
  join(pending) {
    this._command('wait');
    if (pending._settled === undefined) {
      pending._settled = this._take(pending.handle);
    }
    const o = pending._settled;
    if (!o.ok) throw o.failure;
    return decodeOutput(pending.what, o.bytes);
  }

  /** Waits for all of `pendings`; returns their outputs in the order given,
   * or throws the first failure (in that order) once all have completed. */
  joinAll(pendings) {
    const settled = this.joinAllSettled(pendings);
    const failed = settled.find((s) => !s.ok);
    if (failed) throw failed.error;
    return settled.map((s) => s.value);
  }

  /** Waits for all of `pendings`; returns `{ok: true, value}` or
   * `{ok: false, error}` for each, in the order given. */
  joinAllSettled(pendings) {
    this._command('wait');
    let missing = pendings.filter((p) => !p._isReady()).map((p) => p.handle);
    // Each wait takes one winner: drop just it (a fan-out of n joins in n
    // waits, not n lookups per wait), unless a handler's own waits took
    // others meanwhile.
    while (missing.length > 0) {
      const before = this._completions;
      const [h, outcome] = this._wait(missing, undefined);
      this._ready.set(h, outcome);
      const at = missing.indexOf(h);
      if (this._completions === before + 1 && at >= 0) missing.splice(at, 1);
      else missing = pendings.filter((p) => !p._isReady()).map((p) => p.handle);
    }
    return pendings.map((p) => {
      try {
        return { ok: true, value: this.join(p) };
      } catch (e) {
        if (e instanceof Failure) return { ok: false, error: e };
        throw e;
      }
    });
  }

  /**
   * Waits until the first of `candidates` (Pending or SignalChannel)
   * completes and returns its index. The winner's result stays buffered:
   * join or receive it to read it. When several are ready, the one listed
   * first wins; otherwise the one the history recorded first. The losers keep
   * running.
   */
  select(candidates) {
    return this.selectUntil(candidates, undefined);
  }

  /** Like `select`, but returns `null` as soon as `until(state)` holds
   * (checked first, then after each update handler runs). */
  selectUntil(candidates, until) {
    this._command('wait');
    if (until && until(this.state)) return null;
    if (!candidates || candidates.length === 0) {
      if (!until) throw new TypeError('select needs at least one candidate');
      this._wait([], until);
      return null;
    }
    const ready = candidates.findIndex((c) => c._isReady());
    if (ready >= 0) return ready;
    const handles = candidates.map((c) => c._selectHandle());
    const got = this._wait(handles, until);
    if (got === null) return null;
    const [h, outcome] = got;
    this._ready.set(h, outcome);
    return handles.findIndex((x) => x === h);
  }

  /** Like `select`, but throws when the workflow's cancellation ended the
   * wait: if the winner completed with a `cancelled` failure after a
   * cancellation was requested (a cancelled timer, activity or child), that
   * CancelledFailure is thrown (the winner's outcome stays buffered). With
   * plain `select` such a winner's index looks like any other, and code that
   * does not join it goes down the path of a timer that fired. */
  trySelect(candidates) {
    const i = this.select(candidates);
    if (this.cancelReason !== undefined) {
      const c = candidates[i];
      const h = c instanceof SignalChannel ? c._armed : c.handle;
      const o = this._ready.get(h) ?? c._settled;
      if (o && !o.ok && o.failure.kind === 'cancelled') throw o.failure;
    }
    return i;
  }

  /** A select by name: waits for the first of `candidates` (an object of
   * pending commands and signal channels) and returns `{ key, value }`: the
   * winner's key and its value, taken as `receive` or `join` would (a failed
   * activity or child throws its Failure). The losers keep running, to be
   * chosen among again. Throws the CancelledFailure when the workflow's
   * cancellation ended the wait, as `trySelect` does:
   * `const { key, value } = ctx.choose({ decision: decisions, expired: deadline });` */
  choose(candidates) {
    const keys = Object.keys(candidates ?? {});
    if (keys.length === 0) throw new TypeError('choose needs at least one candidate: { name: pending }');
    const cands = keys.map((k) => candidates[k]);
    const i = this.trySelect(cands);
    const winner = cands[i];
    const value = winner instanceof SignalChannel ? this.receive(winner) : this.join(winner);
    return { key: keys[i], value };
  }

  /** Blocks until `until(state)` holds; only update handlers can make it hold. */
  waitUntil(until) {
    this._command('wait');
    if (until(this.state)) return;
    this._wait([], until);
  }

  // --- versions, cancellation, long runs ----------------------------------

  /** True when this run takes the new path of a code change, false when it
   * replays a history recorded before it. */
  patched(patchId) {
    this._command('call patched');
    return rt.patched(String(patchId));
  }

  /** The middle step of retiring a patch: only the new path remains. */
  deprecatePatch(patchId) {
    this._command('call deprecatePatch');
    rt.deprecatePatch(String(patchId));
  }

  // --- search attributes and memo ------------------------------------------

  /** Sets search attributes of this execution (null removes one), recorded
   * in its history and indexed by the host: `weft list --query 'CustomerId =
   * "c-42"'` finds it. They carry over to the next run of a continue-as-new. */
  upsertSearchAttributes(attributes) {
    this._command('set search attributes');
    rt.upsertSearchAttributes(searchAttributeList(attributes));
  }

  /** This execution's search attributes as the code has set them so far
   * (those it started with, then each upsert): the same on every replay. */
  searchAttributes() {
    return searchAttributesFromWit(rt.searchAttributes());
  }

  /** This execution's memo as the code has set it so far (decoded JSON). */
  memo() {
    return memoFromWit(rt.memo(), decode);
  }

  /** Sets fields of this execution's memo (any JSON each; null removes one):
   * data shown with the execution, never searched. */
  upsertMemo(fields) {
    this._command('set the memo');
    rt.upsertMemo(memoList(fields));
  }

  /** Whether a cancellation was requested (`weft cancel`). */
  isCancelRequested() {
    return this.cancelReason !== undefined;
  }

  /** Ends this run and starts the next one of the same id with `input`. Never returns. */
  continueAsNew(input) {
    this._command('continue as new');
    rt.continueAsNew(encode(input));
    throw new Error('the host ends the run at continue-as-new');
  }

  /** The length of this run's history as the code has seen it. */
  historyLength() {
    return Number(rt.historyInfo().length);
  }

  /** True once the history passed the host's warning limit: continue as new. */
  continueAsNewSuggested() {
    return rt.historyInfo().continueAsNewSuggested;
  }

  // --- time, randomness, logs, info ---------------------------------------

  /** Workflow time, ms since the Unix epoch (the same as `Date.now()`). */
  now() {
    return Number(rt.now());
  }

  /** A float in [0, 1) from the run's seeded stream (the same as `Math.random()`). */
  random() {
    return rng.nextFloat();
  }

  /** The next value of the host's seeded u64 stream, as a BigInt. */
  randomU64() {
    return rt.random();
  }

  /** A log line on the host (level: trace, debug, info, warn, error), not repeated in replays. */
  log(message, level = 'info') {
    rt.log(level, String(message));
  }

  /** `{ workflowType, executionId, module, startedAtMs }`. */
  info() {
    const i = rt.info();
    return {
      workflowType: i.workflowType,
      executionId: i.executionId,
      module: i.module,
      startedAtMs: Number(i.startedAtMs),
    };
  }

  // --- internals ----------------------------------------------------------

  _command(what) {
    if (this._serving) {
      throw new Failure(
        'read-only',
        `a query or an update validator tried to ${what}; they see the state only`,
        { nonRetryable: true },
      );
    }
  }

  /** The outcome of `handle`, buffered or waited for. */
  _take(handle) {
    if (this._ready.has(handle)) {
      const o = this._ready.get(handle);
      this._ready.delete(handle);
      return o;
    }
    return this._wait([handle], undefined)[1];
  }

  /**
   * The one place the workflow blocks: returns `[handle, outcome]` for the
   * next completion among `handles`, answering queries and running updates
   * that arrive first; `null` when `until` holds after an update, or when a
   * cancellation ends a wait on signals alone.
   */
  _wait(handles, until) {
    for (;;) {
      const d = rt.wait(this._withSignalHandlers(handles));
      switch (d.tag) {
        case 'completed': {
          const o = d.val.outcome;
          const outcome =
            o.tag === 'ok' ? { ok: true, bytes: o.val } : { ok: false, failure: Failure.fromWit(o.val) };
          const name = this._handlerReceives.get(d.val.handle);
          if (name === undefined) {
            if (!outcome.ok && this._activities.has(d.val.handle)) {
              const info = rt.activityFailure(d.val.handle);
              if (info !== undefined && info !== null) {
                outcome.failure.activity = {
                  attempts: info.attempts,
                  retryState: info.retryState,
                  cause: info.cause === undefined || info.cause === null ? undefined : Failure.fromWit(info.cause),
                };
              }
            }
            this._completions += 1;
            return [d.val.handle, outcome];
          }
          this._handlerReceives.delete(d.val.handle);
          this._inSignalHandler = true;
          try {
            runSignal(this, name, outcome);
          } finally {
            this._inSignalHandler = false;
          }
          if (until && until(this.state)) return null;
          break;
        }
        case 'query':
          rt.respond(d.val.id, this._serve(() => answerQuery(this._def, this.state, d.val.name, d.val.input)));
          break;
        case 'validate-update':
          rt.respond(d.val.id, this._serve(() => validateUpdate(this._def, this.state, d.val.name, d.val.input)));
          break;
        case 'update': {
          const u = d.val;
          rt.completeUpdate(u.updateId, runUpdate(this, u.name, u.input));
          if (until && until(this.state)) return null;
          break;
        }
        case 'cancelled': {
          this.cancelReason = d.val;
          // The host completes the pending timers, activities and children
          // with `cancelled` failures: keep waiting for those. A wait on
          // signals alone, or on a condition, ends here.
          if (handles.every((h) => this._receives.has(h))) {
            if (handles.length === 0) return null;
            this._completions += 1;
            return [handles[0], { ok: false, failure: Failure.cancelled(`the workflow (${d.val})`) }];
          }
          break;
        }
        default:
          throw new Error(`unknown delivery from the host: ${d.tag}`);
      }
    }
  }

  /** Arms a receive for each signal handler that has none; the handles to
   * wait on: `handles` and those receives. */
  _withSignalHandlers(handles) {
    if (this._inSignalHandler) return handles;
    const armed = new Set(this._handlerReceives.values());
    for (const name of Object.keys(this._def.signalHandlers)) {
      if (!armed.has(name)) this._handlerReceives.set(rt.receiveSignal(name), name);
    }
    return [...handles, ...this._handlerReceives.keys()];
  }

  /** Runs a read-only handler: no commands, and the random stream restored. */
  _serve(f) {
    const saved = rng.save();
    this._serving = true;
    try {
      return f();
    } finally {
      this._serving = false;
      rng.restore(saved);
    }
  }
}

// ---------------------------------------------------------------------------
// Handlers.

function asFailureResult(e) {
  return { tag: 'err', val: Failure.from(e).toWit() };
}

function answerQuery(def, state, name, inputBytes) {
  const q = Object.prototype.hasOwnProperty.call(def.queries, name) ? def.queries[name] : undefined;
  if (!q) {
    return {
      tag: 'err',
      val: Failure.nonRetryable('unknown-query', `this workflow has no query named \`${name}\``).toWit(),
    };
  }
  try {
    const input = decodeInput(`the input of query \`${name}\``, inputBytes);
    return { tag: 'ok', val: encode(noAsync(q(state, input), `query \`${name}\``)) };
  } catch (e) {
    return asFailureResult(e);
  }
}

function validateUpdate(def, state, name, inputBytes) {
  const u = Object.prototype.hasOwnProperty.call(def.updates, name) ? def.updates[name] : undefined;
  if (!u) {
    return {
      tag: 'err',
      val: Failure.nonRetryable('unknown-update', `this workflow has no update named \`${name}\``).toWit(),
    };
  }
  try {
    const input = decodeInput(`the input of update \`${name}\``, inputBytes);
    if (u.validate && u.validate(state, input) === false) {
      return { tag: 'err', val: Failure.nonRetryable('rejected', `update \`${name}\` was rejected`).toWit() };
    }
    return { tag: 'ok', val: new Uint8Array(0) };
  } catch (e) {
    return asFailureResult(e);
  }
}

/** Runs the handler of signal `name`: a Failure it throws, or an input that
 * does not decode, drops that signal (logged); anything else is a bug. */
function runSignal(ctx, name, outcome) {
  try {
    if (!outcome.ok) throw outcome.failure;
    const input = decodeInput(`the input of signal \`${name}\``, outcome.bytes);
    noAsync(ctx._def.signalHandlers[name](ctx, input), `signal \`${name}\``);
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    ctx.log(`signal \`${name}\` dropped by its handler: ${e.message}`, 'warn');
  }
}

function runUpdate(ctx, name, inputBytes) {
  const u = Object.prototype.hasOwnProperty.call(ctx._def.updates, name) ? ctx._def.updates[name] : undefined;
  if (!u) {
    return {
      tag: 'err',
      val: Failure.nonRetryable('unknown-update', `this workflow has no update named \`${name}\``).toWit(),
    };
  }
  try {
    const input = decodeInput(`the input of update \`${name}\``, inputBytes);
    return { tag: 'ok', val: encode(noAsync(u.handler(ctx, input), `update \`${name}\``)) };
  } catch (e) {
    // A Failure is the update's result; anything else is a bug: trap.
    if (e instanceof Failure) return { tag: 'err', val: e.toWit() };
    throw e;
  }
}

function normalize(def) {
  if (typeof def === 'function') def = { run: def };
  if (!def || typeof def.run !== 'function') {
    throw new TypeError('defineWorkflow needs a function, or an object with a `run(ctx, input)` function');
  }
  const updates = {};
  for (const [name, u] of Object.entries(def.updates ?? {})) {
    if (typeof u === 'function') updates[name] = { handler: u };
    else if (u && typeof u.handler === 'function') updates[name] = { handler: u.handler, validate: u.validate };
    else throw new TypeError(`update \`${name}\` needs a function, or { handler, validate }`);
  }
  const queries = {};
  for (const [name, q] of Object.entries(def.queries ?? {})) {
    if (typeof q !== 'function') throw new TypeError(`query \`${name}\` needs a function (state, input) => answer`);
    queries[name] = q;
  }
  // `signals`: names received through channels (an array), or an object
  // whose values are handlers `(ctx, input) => void` (or `true` for a
  // channel).
  const signalHandlers = {};
  let signals;
  if (Array.isArray(def.signals ?? [])) {
    signals = [...(def.signals ?? [])].map(String);
  } else {
    signals = [];
    for (const [name, h] of Object.entries(def.signals)) {
      if (typeof h === 'function') signalHandlers[name] = h;
      else if (h !== true) throw new TypeError(`signal \`${name}\` needs a handler (ctx, input) => void, or true for a channel`);
      signals.push(name);
    }
  }
  return {
    run: def.run,
    state: def.state,
    signals,
    signalHandlers,
    queries,
    updates,
  };
}

function initialState(def) {
  if (typeof def.state === 'function') return def.state();
  if (def.state === undefined) return {};
  // A plain value: a fresh copy per run.
  return JSON.parse(JSON.stringify(def.state));
}

// The state and definition of the run that returned, for `query` on a closed
// execution (the host replays the run, then asks this instance).
let finished;

/**
 * Defines the workflow of this component and returns its three exports:
 *
 *   export const { run, handlers, query } = defineWorkflow({
 *     state: () => ({ plan: 'basic' }),          // what queries see
 *     signals: ['change-plan'],                   // names received with ctx.signalChannel
 *     // or { 'change-plan': (ctx, plan) => { ... }, other: true }: a handler
 *     // per name (run at the next wait, in order), `true` for a channel
 *     queries: { status: (state, input) => state },
 *     updates: {
 *       cancel: { validate: (state, input) => { if (!input.reason) throw Failure.nonRetryable('Invalid', '...'); },
 *                 handler: (ctx, input) => { ...; return result; } },
 *     },
 *     run(ctx, input) { ...; return output; },
 *   });
 *
 * Or just `defineWorkflow((ctx, input) => output)`.
 *
 * `run` returns the output (any JSON value) or throws a `Failure`, which
 * fails the execution. Any other exception is a bug: the guest traps and the
 * execution stalls until a fixed module is deployed and upgraded to.
 */
export function defineWorkflow(definition) {
  const def = normalize(definition);
  return {
    run(inputBytes) {
      let input;
      try {
        input = decodeInput('the workflow input', inputBytes);
      } catch (e) {
        return { tag: 'err', val: e.toWit() };
      }
      // The first draw of the run's recorded random stream seeds Math.random.
      rng.reseed(rt.random());
      const ctx = new Ctx(def, initialState(def));
      try {
        const output = noAsync(def.run(ctx, input), 'the workflow');
        return { tag: 'ok', val: encode(output) };
      } catch (e) {
        if (e instanceof Failure) return { tag: 'err', val: e.toWit() };
        throw trap(`the workflow threw ${describe(e)}`);
      } finally {
        finished = ctx;
      }
    },

    handlers() {
      return {
        signals: def.signals,
        queries: Object.keys(def.queries),
        updates: Object.keys(def.updates),
      };
    },

    query(name, inputBytes) {
      if (!finished) {
        return {
          tag: 'err',
          val: new Failure('not-finished', 'the workflow has not returned: queries go through its waits').toWit(),
        };
      }
      return finished._serve(() => answerQuery(def, finished.state, name, inputBytes));
    },
  };
}

// ---------------------------------------------------------------------------
// Sagas.

/**
 * Compensations registered after each successful step, run latest first (or
 * all at once with `new Saga({ parallel: true })`) when a later step fails.
 * Each is an activity, retried under its options and recorded like any
 * other, so a host killed while compensating finishes after the restart and
 * runs none twice.
 *
 *   const saga = new Saga();
 *   try {
 *     const flight = ctx.activity('book_flight', trip);
 *     saga.add('cancel_flight', flight);
 *     ...
 *   } catch (e) {
 *     throw saga.compensateAndFail(ctx, e);
 *   }
 */
export class Saga {
  constructor({ parallel = false } = {}) {
    this.parallel = parallel;
    this._steps = [];
  }

  /** Registers the activity that undoes the step just done. */
  add(activity, input, options) {
    // Copied now, so later changes to `input` do not change the compensation.
    const copy = input === undefined ? null : JSON.parse(JSON.stringify(input));
    this._steps.push({ activity: String(activity), input: copy, options });
    return this;
  }

  get length() {
    return this._steps.length;
  }

  /** Runs the registered compensations and forgets them; returns the
   * Failures of those that failed for good. */
  compensate(ctx) {
    const steps = this._steps.reverse();
    this._steps = [];
    if (this.parallel) {
      const pending = steps.map((s) => ctx.startActivity(s.activity, s.input, s.options));
      return ctx
        .joinAllSettled(pending)
        .filter((r) => !r.ok)
        .map((r) => r.error);
    }
    const failed = [];
    for (const s of steps) {
      try {
        ctx.activity(s.activity, s.input, s.options);
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        failed.push(e);
      }
    }
    return failed;
  }

  /** Compensates, then returns the original Failure to throw (with the
   * compensations that failed in its details). Anything but a Failure is a
   * bug: it is rethrown at once, without compensating. */
  compensateAndFail(ctx, error) {
    if (!(error instanceof Failure)) throw error;
    const failed = this.compensate(ctx);
    if (failed.length === 0) return error;
    return error.withDetails({ failed_compensations: failed.map((f) => f.toString()) });
  }
}
