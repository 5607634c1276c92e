// Type declarations for weft-testing.mjs: a test environment for weft
// workflows, for Node's test runner (node:test) or any other.
//
//   import { WorkflowEnvironment } from './weft-testing.mjs';
//
//   const env = await WorkflowEnvironment.start({
//     modules: [['trip.wasm', 'trip-booking']],
//     mocks: { book_car: () => { throw new ActivityError('unavailable', 'no cars'); } },
//   });
//   const id = await env.startWorkflow('trip-booking', { traveller: 'ada' });
//   await env.skip('1h');
//   const out = await env.result(id);
//   await env.close();

/** The `weft:workflow` contract this SDK is written against. */
export const CONTRACT: '0.1.3';

/** The task queue the environment's mocks poll. */
export const MOCK_QUEUE: 'weft-test-mocks';

/** A duration: milliseconds (a non-negative integer), or text like `'500ms'`, `'90s'`, `'1h30m'`, `'30d'`. */
export type TestDuration = number | string;

/** Milliseconds from a number or text like `90s`, `1h30m`, `30d`. */
export function durationMs(value: TestDuration): number;

/** The status of an execution, as the host reports it. */
export type ExecutionStatus = 'running' | 'completed' | 'failed' | 'stalled' | 'cancelled' | 'terminated';

/** A failure as the host's HTTP API writes it. */
export interface ApiFailure {
  kind: string;
  message: string;
  details: unknown;
  non_retryable: boolean;
}

/** The outcome of an execution (`GET /v1/executions/{id}/result`). */
export interface ExecutionResult {
  id: string;
  status: ExecutionStatus;
  output: unknown;
  failure: ApiFailure | null;
  stall_reason: string | null;
}

/** What a deploy answers (`ModuleInfo`). */
export interface ModuleInfo {
  /** sha-256 of the component, hex. */
  hash: string;
  kind: 'workflow' | 'activity';
  workflow_type: string | null;
  activities: string[];
  signals: string[];
  queries: string[];
  updates: string[];
  doors: { env: string[]; dirs: { host: string; guest: string; read_only: boolean }[]; http: string[] };
  size_bytes: number;
  deployed_at_ms: number;
  /** A workflow's version number within its type. */
  version?: number;
  /** Activity names this module took from another module. */
  moved?: { name: string; from: string }[];
}

/** An activity an execution waits for (in `ExecutionDetail`). */
export interface PendingActivityDetail {
  handle: number;
  name: string;
  /** The attempt running or due next. */
  attempt: number;
  heartbeat_details: unknown;
  last_failure?: ApiFailure;
  next_attempt_at_ms?: number;
  last_served_by?: string;
  unserved: boolean;
  /** The task queue its attempt waits on for an external worker (or a worker took it from). */
  task_queue?: string;
  /** A worker took its attempt's task and has not answered yet. */
  taken_by_worker: boolean;
}

/** What `env.describe(id)` returns (`ExecutionDetail`). */
export interface ExecutionDetail {
  id: string;
  workflow_type: string;
  module: string;
  status: ExecutionStatus;
  /** The run of this id (continue-as-new and reuse start new runs). */
  run: number;
  created_at_ms: number;
  closed_at_ms: number | null;
  version: number | null;
  input: unknown;
  output: unknown;
  failure: ApiFailure | null;
  stall_reason: string | null;
  history_length: number;
  cached: boolean;
  pending_activities: PendingActivityDetail[];
  pending_timers: { handle: number; fire_at_ms: number }[];
  cancel_requested: boolean;
  parent: { id: string; close_policy: 'terminate' | 'request-cancel' | 'abandon' } | null;
  children: {
    id: string;
    workflow_type: string;
    status: string;
    parent_close_policy: 'terminate' | 'request-cancel' | 'abandon';
  }[];
  execution_deadline_ms?: number;
  run_deadline_ms?: number;
  /** On a store of several partitions: its partition and the host holding it. */
  partition?: number;
  held_by?: string;
}

/** One event of a history: `{ index, at_ms, event: { type, ...fields } }`. */
export interface HistoryEvent {
  index: number;
  at_ms: number;
  event: { type: string; [field: string]: unknown };
}

/** A history as `weft history ID --json` exports it (for `weft replay`). */
export interface HistoryExport {
  format: 'weft-history/1';
  execution_id: string;
  workflow_type: string;
  module: string;
  events: HistoryEvent[];
}

/** What a mock learns of the attempt it serves. */
export interface MockContext {
  /** 1 for the first attempt. */
  attempt: number;
  executionId: string;
  name: string;
  idempotencyKey: string;
}

/**
 * A mock activity: `(ctx, input) => output` (may be async), as activities are
 * written with `defineActivities`; `input` is the decoded JSON input (annotate
 * it with the shape you expect). Throw an `ActivityError` to fail the attempt
 * with a typed failure (any other error is a retryable failure).
 */
export type Mock = {
  // Method syntax: a mock whose input is annotated more narrowly is accepted.
  bivarianceHack(ctx: MockContext, input: unknown): unknown;
}['bivarianceHack'];

/** A module to deploy: a path (the workflow type is the file name without `.wasm`), or `[path, typeName]`. */
export type ModuleSpec = string | readonly [path: string, typeName?: string];

/** The options of `WorkflowEnvironment.start`. */
export interface StartOptions {
  /** The components to deploy. */
  modules?: readonly ModuleSpec[] | undefined;
  /** Activity name -> mock; they are served on `MOCK_QUEUE`. */
  mocks?: Record<string, Mock> | undefined;
  /** The `weft` binary (default: `WEFT_BIN`, else `weft` on PATH). */
  weftBin?: string | undefined;
  /** More arguments for `weft server`. */
  args?: readonly string[] | undefined;
  /** How long `skip` and `result` wait at most (default 60000 ms). */
  timeoutMs?: number | undefined;
}

/** A mock throws this to fail an attempt with a typed failure. */
export class ActivityError extends Error {
  constructor(kind: string, message: string, options?: { nonRetryable?: boolean | undefined; details?: unknown });
  kind: string;
  nonRetryable: boolean;
  /** Any JSON value (default null). */
  details: unknown;
}

/** The host refused a request; `status` is the HTTP status. */
export class ApiError extends Error {
  constructor(status: number, message: string);
  status: number;
}

/** An update's validator rejected it: nothing was recorded. */
export class UpdateRejected extends ApiError {}

/** The execution ended without an output: failed, cancelled, terminated or stalled (or an update failed). */
export class WorkflowFailed extends Error {
  constructor(result: { id: string; status: ExecutionStatus | 'accepted'; failure?: ApiFailure | null; stall_reason?: string | null });
  /** The execution's status (for a failed update, the update's: `'completed'`). */
  status: ExecutionStatus | 'accepted';
  /** The failure, when there is one (none for a stall). */
  failure: ApiFailure | null;
}

/** A private weft host with a manual clock, serving mocks; made by `WorkflowEnvironment.start`. */
export class WorkflowEnvironment {
  #private;
  private constructor();

  /**
   * Starts a private host and deploys `modules` (paths, or `[path, typeName]`;
   * a workflow's type defaults to the file name without `.wasm`).
   * `mocks`: activity name -> `(ctx, input) => output` (may be async).
   */
  static start(options?: StartOptions): Promise<WorkflowEnvironment>;

  /** The host's base URL. */
  readonly url: string;
  /** The mocks served (activity name -> mock); may be replaced between calls. */
  mocks: Record<string, Mock>;
  /** How long `skip` and `result` wait at most, in ms. */
  timeoutMs: number;

  /** What the host wrote to stderr so far (for a failing test's message). */
  hostLog(): string;
  /** Deploys a component (a workflow's type is `name`, default the file name without `.wasm`). */
  deploy(path: string, name?: string): Promise<ModuleInfo>;
  /** Starts an execution; returns its id. */
  startWorkflow(workflowType: string, input?: unknown, options?: { id?: string | undefined }): Promise<string>;
  /** Sends a signal. */
  signal(id: string, name: string, input?: unknown): Promise<void>;
  /** Runs a query; returns its answer (decoded JSON). */
  query<T = unknown>(id: string, name: string, input?: unknown): Promise<T>;
  /** Runs an update; throws `UpdateRejected` if its validator rejected it, `WorkflowFailed` if it failed. */
  update<T = unknown>(id: string, name: string, input?: unknown): Promise<T>;
  /** Asks the execution to cancel (its code sees the cancellation at its next wait). */
  cancel(id: string, reason?: string | null): Promise<void>;
  /** Ends the execution at once; its code runs no more. */
  terminate(id: string, reason?: string | null): Promise<void>;
  /** The execution's details. */
  describe(id: string): Promise<ExecutionDetail>;
  /** The history as `weft history ID --json` exports it (for `weft replay`). */
  history(id: string): Promise<HistoryExport>;
  /** The host's (manual) clock, ms since the Unix epoch. */
  nowMs(): Promise<number>;
  /** Moves time forward by `duration`, timer by timer; resolves (to the new time) once the host is idle there. */
  skip(duration: TestDuration): Promise<number>;
  /** Waits for the end and returns the output (skipping time while idle); throws `WorkflowFailed` otherwise. */
  result<T = unknown>(id: string, options?: { skipTime?: boolean | undefined }): Promise<T>;
  /** Stops the host and removes its directory. */
  close(): Promise<void>;
}

/** Starts an environment, runs `body(env)`, and stops the host whatever happens. */
export function withEnvironment<T>(options: StartOptions | undefined, body: (env: WorkflowEnvironment) => Promise<T>): Promise<T>;

/**
 * Replays a history file, or every `.json` history under a directory, against
 * `module` offline (`weft replay`); returns its report, throws with each divergence.
 */
export function replay(module: string, histories: string, options?: { weftBin?: string | undefined }): string;
