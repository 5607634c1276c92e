// A test environment for weft workflows, for Node's test runner (node:test)
// or any other: no dependencies, Node 18 or newer.
//
//   import { WorkflowEnvironment } from './weft-testing.mjs';
//
//   await withEnvironment({
//     modules: [['trip.wasm', 'trip-booking']],
//     mocks: { book_car: (ctx, trip) => { throw new ActivityError('unavailable', 'no cars'); } },
//   }, async (env) => {
//     const id = await env.startWorkflow('trip-booking', { traveller: 'ada' });
//     await env.skip('1h');
//     const out = await env.result(id);
//   });                                    // the host stops, even when the test throws
//
// Each environment starts its own `weft` host (WEFT_BIN, else `weft` on
// PATH) on a temporary directory with the manual clock; its contract must be
// this module's CONTRACT. Mocks run on a private task queue the host routes
// their activity names to (`--route-activity NAME=QUEUE`); time skips only
// while no activity attempt or workflow task runs (see the README's
// "Testing workflows").

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';

/** The `weft:workflow` contract this SDK is written against. */
export const CONTRACT = '0.1.3';

/** The task queue the environment's mocks poll. */
export const MOCK_QUEUE = 'weft-test-mocks';

const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from a number or text like `90s`, `1h30m`, `30d`. */
export function durationMs(value) {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const text = String(value).replace(/\s+/g, '');
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new TypeError(`${JSON.stringify(value)} is not a duration: use milliseconds or e.g. '500ms', '90s', '2h', '30d'`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit], 0);
}

/** A mock throws this to fail an attempt with a typed failure. */
export class ActivityError extends Error {
  constructor(kind, message, { nonRetryable = false, details = null } = {}) {
    super(message);
    this.kind = kind;
    this.nonRetryable = nonRetryable;
    this.details = details;
  }
}

/** The host refused a request; `status` is the HTTP status. */
export class ApiError extends Error {
  constructor(status, message) {
    super(`${status}: ${message}`);
    this.status = status;
  }
}

/** An update's validator rejected it: nothing was recorded. */
export class UpdateRejected extends ApiError {}

/** The execution ended without an output: failed, cancelled, terminated or stalled. */
export class WorkflowFailed extends Error {
  constructor(result) {
    const what = result.stall_reason ?? result.failure?.message ?? '';
    super(`execution ${result.id} ended ${result.status}: ${what}`);
    this.status = result.status;
    this.failure = result.failure ?? null;
  }
}

function weftBinary(given) {
  return given ?? process.env.WEFT_BIN ?? 'weft';
}

function checkContract(binary) {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (out.error) {
    throw new Error(`no weft binary at ${binary}: set WEFT_BIN to the weft you test with, or put it on PATH`);
  }
  const found = /weft:workflow@(\d+)\.(\d+)\.(\d+)/.exec(out.stdout);
  if (!found) {
    throw new Error(`${binary} --version says ${JSON.stringify(out.stdout.trim())}, which names no guest contract: use a newer weft`);
  }
  const have = found.slice(1).map(Number);
  const want = CONTRACT.split('.').map(Number);
  const older = have[2] < want[2];
  if (have[0] !== want[0] || have[1] !== want[1] || older) {
    throw new Error(`${binary} provides contract ${have.join('.')}, this SDK needs ${CONTRACT}: use a weft built for it`);
  }
}

export class WorkflowEnvironment {
  /**
   * Starts a private host and deploys `modules` (paths, or `[path, typeName]`;
   * a workflow's type defaults to the file name without `.wasm`).
   * `mocks`: activity name -> `(ctx, input) => output` (may be async), as
   * activities are written with `defineActivities`.
   */
  static async start({ modules = [], mocks = {}, weftBin, args = [], timeoutMs = 60_000 } = {}) {
    const binary = weftBinary(weftBin);
    checkContract(binary);
    const dir = mkdtempSync(join(tmpdir(), 'weft-test-'));
    const cache = process.env.WEFT_COMPILE_CACHE ?? join(tmpdir(), 'weft-test-compile-cache');
    const command = ['server', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0',
      '--manual-clock', '--compile-cache', cache, ...args];
    for (const name of Object.keys(mocks)) command.push('--route-activity', `${name}=${MOCK_QUEUE}`);
    // The host's log goes to a file, not a pipe: nothing of the host keeps
    // this process alive, and the host is killed when this process exits
    // (a test that threw before `close`).
    const logPath = join(dir, 'host.log');
    const logFd = openSync(logPath, 'w');
    const host = spawn(binary, command, { stdio: ['ignore', 'pipe', logFd] });
    closeSync(logFd);
    const kill = () => {
      try { host.kill('SIGKILL'); } catch { /* gone */ }
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', kill);
    host.once('exit', () => process.removeListener('exit', kill));
    const url = await new Promise((resolve, reject) => {
      const lines = createInterface({ input: host.stdout });
      lines.once('line', (line) => resolve(line.startsWith('listening on ') ? line.split(' ').pop() : null));
      host.once('exit', () => resolve(null));
      host.once('error', reject);
    });
    host.stdout.destroy();
    host.unref();
    const log = () => { try { return readFileSync(logPath, 'utf8'); } catch { return ''; } };
    const env = new WorkflowEnvironment(host, url, dir, { ...mocks }, timeoutMs, log);
    if (!url) {
      await env.close();
      throw new Error(`the weft host did not start: ${log().trim()}`);
    }
    try {
      for (const m of modules) await env.deploy(...(Array.isArray(m) ? m : [m]));
    } catch (e) {
      await env.close();
      throw e;
    }
    if (Object.keys(mocks).length > 0) env.#serving = env.#serveMocks();
    return env;
  }

  #host; #dir; #stopping = false; #serving = null; #log;

  constructor(host, url, dir, mocks, timeoutMs, log) {
    this.#host = host;
    this.url = url;
    this.#dir = dir;
    this.mocks = mocks;
    this.timeoutMs = timeoutMs;
    this.#log = log;
  }

  /** What the host wrote to stderr so far (for a failing test's message). */
  hostLog() { return this.#log(); }

  async #call(method, path, body, { raw } = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: { 'content-type': raw ? 'application/wasm' : 'application/json' },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try { message = JSON.parse(text).error.message; } catch { /* not JSON */ }
      throw new ApiError(res.status, message);
    }
    return text ? JSON.parse(text) : null;
  }

  async deploy(path, name) {
    const type = name ?? basename(path).replace(/\.wasm$/, '');
    return this.#call('POST', `/v1/modules?name=${encodeURIComponent(type)}`, undefined, { raw: readFileSync(path) });
  }

  /** Starts an execution; returns its id. */
  async startWorkflow(workflowType, input = null, { id } = {}) {
    const body = { workflow_type: workflowType, input };
    if (id !== undefined) body.id = id;
    return (await this.#call('POST', '/v1/executions', body)).id;
  }

  async signal(id, name, input = null) {
    await this.#call('POST', `/v1/executions/${encodeURIComponent(id)}/signals`, { name, input });
  }

  async query(id, name, input = null) {
    return (await this.#call('POST', `/v1/executions/${encodeURIComponent(id)}/queries`, { name, input })).output;
  }

  /** Runs an update; throws `UpdateRejected` if its validator rejected it. */
  async update(id, name, input = null) {
    let answer;
    try {
      answer = await this.#call('POST', `/v1/executions/${encodeURIComponent(id)}/updates`, { name, input });
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) throw new UpdateRejected(422, e.message.replace(/^422: /, ''));
      throw e;
    }
    if (answer.failure) throw new WorkflowFailed({ id, status: answer.status, failure: answer.failure });
    return answer.output;
  }

  /** Asks the execution to cancel (its code sees the cancellation at its next wait). */
  async cancel(id, reason = null) {
    await this.#call('POST', `/v1/executions/${encodeURIComponent(id)}/cancel`, { reason });
  }

  /** Ends the execution at once; its code runs no more. */
  async terminate(id, reason = null) {
    await this.#call('POST', `/v1/executions/${encodeURIComponent(id)}/terminate`, { reason });
  }

  async describe(id) { return this.#call('GET', `/v1/executions/${encodeURIComponent(id)}`); }

  /** The history as `weft history ID --json` exports it (for `weft replay`). */
  async history(id) { return this.#call('GET', `/v1/executions/${encodeURIComponent(id)}/history`); }

  async nowMs() { return (await this.#call('GET', '/v1/clock')).now_ms; }

  /** Moves time forward by `duration`, timer by timer; resolves once the host is idle there. */
  async skip(duration) {
    const target = (await this.nowMs()) + durationMs(duration);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const done = await this.#call('POST', '/v1/clock/skip', { limit_ms: target, wait_ms: 2000 });
      if (done.held === 'limit') return done.now_ms;
      if (done.held === 'nothing-waits') {
        await this.#call('POST', '/v1/clock/advance', { ms: target - done.now_ms });
      } else if (done.held === 'busy' && Date.now() > deadline) {
        throw new Error(`could not skip time for ${this.timeoutMs} ms: ${done.reason}`);
      }
    }
  }

  /** Waits for the end and returns the output (skipping time while idle); throws `WorkflowFailed` otherwise. */
  async result(id, { skipTime = true } = {}) {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const answer = await this.#call('GET', `/v1/executions/${encodeURIComponent(id)}/result?wait=true&timeout_ms=50`);
      if (answer.status === 'completed') return answer.output;
      if (answer.status !== 'running') throw new WorkflowFailed(answer);
      await this.#checkServed(id);
      if (Date.now() > deadline) {
        throw new Error(`execution ${id} still runs after ${this.timeoutMs} ms: ${JSON.stringify(await this.describe(id)).slice(0, 2000)}`);
      }
      if (skipTime) await this.#call('POST', '/v1/clock/skip', { wait_ms: 100 });
    }
  }

  /** An activity no component and no mock serves fails at once, not after the timeout. */
  async #checkServed(id) {
    const d = await this.describe(id);
    const unserved = (d.pending_activities ?? []).filter((a) => a.unserved).map((a) => a.name);
    if (unserved.length > 0) {
      throw new Error(
        `execution ${id} waits for activity ${unserved.join(', ')}, which no deployed component and no mock serves: ` +
        `add ${unserved.length > 1 ? 'them' : 'it'} to \`mocks\` or deploy the activity component`,
      );
    }
  }

  async #serveMocks() {
    while (!this.#stopping) {
      let task;
      try {
        task = await this.#call('POST', `/v1/task-queues/${MOCK_QUEUE}/poll?wait_ms=300`, {});
      } catch {
        if (this.#stopping) return;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (!task) continue;
      const token = encodeURIComponent(task.token);
      const ctx = { attempt: task.attempt, executionId: task.execution_id, name: task.name, idempotencyKey: task.idempotency_key };
      try {
        const mock = this.mocks[task.name];
        const output = await mock(ctx, task.input);
        await this.#call('POST', `/v1/tasks/${token}/complete`, { output: output ?? null });
      } catch (e) {
        const failure = e instanceof ActivityError
          ? { kind: e.kind, message: e.message, details: e.details, non_retryable: e.nonRetryable }
          : { kind: e?.name ?? 'Error', message: String(e?.message ?? e), details: null, non_retryable: false };
        await this.#call('POST', `/v1/tasks/${token}/fail`, { failure }).catch(() => {});
      }
    }
  }

  /** Stops the host and removes its directory. */
  async close() {
    this.#stopping = true;
    if (this.#host.exitCode === null && this.#host.signalCode === null) {
      this.#host.ref(); // waiting for its exit must keep this process alive
      const exited = new Promise((r) => this.#host.once('exit', r));
      this.#host.kill('SIGTERM');
      await exited;
    }
    await this.#serving?.catch(() => {});
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Starts an environment, runs `body(env)`, and stops the host whatever
 * happens: the way to use one in a test.
 */
export async function withEnvironment(options, body) {
  const env = await WorkflowEnvironment.start(options);
  try {
    return await body(env);
  } finally {
    await env.close();
  }
}

/**
 * Replays a history file, or every `.json` history under a directory, against
 * `module` offline (`weft replay`); throws with each divergence.
 */
export function replay(module, histories, { weftBin } = {}) {
  const flag = statSync(histories).isDirectory() ? '--dir' : '--history';
  const cache = process.env.WEFT_COMPILE_CACHE ?? join(tmpdir(), 'weft-test-compile-cache');
  const out = spawnSync(weftBinary(weftBin), ['replay', flag, histories, '--module', module], {
    encoding: 'utf8',
    env: { ...process.env, WEFT_COMPILE_CACHE: cache },
  });
  if (out.status !== 0) {
    throw new Error(`replay of ${histories} against ${module} failed:\n${out.stdout}${out.stderr}`);
  }
  return out.stdout;
}
