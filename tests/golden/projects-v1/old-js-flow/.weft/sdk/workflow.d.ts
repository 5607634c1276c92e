// Type declarations for workflow.js: the workflow side of the weft
// JavaScript SDK.
//
//   import { defineWorkflow } from '<sdk>/workflow.js';
//   export const { run, handlers, query } = defineWorkflow((ctx, input: { name: string }) => {
//     const greeting = ctx.activity<string>('greet', { text: input.name });
//     ctx.sleep('1h');
//     return greeting;
//   });
//
// Everything is synchronous: a command returns a `Pending` at once, and
// `join`/`select` block until the host delivers a completion. No Promises,
// no async/await. Outputs of activities, children and signals are decoded
// JSON, not checked against a type: the type arguments (`activity<T>`,
// `signalChannel<T>`...) are what the code asserts it receives.

import type { Duration } from './json.js';
import type { Failure, WitResult } from './failure.js';

export {
  Failure,
  CancelledFailure,
  TimeoutFailure,
  ActivityNotFoundFailure,
  ActivityTrapFailure,
  InvalidInputFailure,
} from './failure.js';
export type {
  FailureOptions,
  FailureJSON,
  RetryState,
  TimeoutType,
  ActivityFailureInfo,
  WitFailure,
  WitResult,
} from './failure.js';
export { millis } from './json.js';
export type { Duration } from './json.js';

// ---------------------------------------------------------------------------
// Search attributes and memo.

/** A search attribute value with its type said (see `searchValue`). */
export interface TypedSearchValue {
  readonly tag: 'keyword' | 'text' | 'int' | 'double' | 'boolean' | 'datetime' | 'keyword-list';
  readonly val: unknown;
}

/**
 * A search attribute value: a string is a keyword, a whole number an int,
 * another number a double, a boolean a bool, a Date a datetime, an array of
 * strings a keyword list; `null` or `undefined` removes the attribute.
 */
export type SearchAttributeValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | readonly string[]
  | TypedSearchValue
  | null
  | undefined;

/** Typed search attribute values, for where a plain value would mislead. */
export declare const searchValue: {
  keyword(value: string): TypedSearchValue;
  /** Matched by words (`Note = "rush"` finds a note holding "rush"). */
  text(value: string): TypedSearchValue;
  int(value: number | bigint): TypedSearchValue;
  double(value: number): TypedSearchValue;
  bool(value: boolean): TypedSearchValue;
  datetime(value: Date | number | string): TypedSearchValue;
  keywordList(value: Iterable<string>): TypedSearchValue;
};

// ---------------------------------------------------------------------------
// Options.

/** A retry policy; fields left out take those of `DEFAULT_RETRY_POLICY`. */
export interface RetryPolicy {
  /** The wait before the first retry (default 1 s). */
  initialInterval?: Duration | undefined;
  /** How much each wait grows (default 2.0). */
  backoffCoefficient?: number | undefined;
  /** The longest wait (default 100 s). */
  maximumInterval?: Duration | undefined;
  /** Attempts in all, 0 for unlimited (the default). */
  maximumAttempts?: number | undefined;
  /** Failure kinds that end the activity at once (default none). */
  nonRetryableKinds?: readonly string[] | undefined;
}

/** What `ctx.cancel` does to an activity or a child and to the code joining it (Temporal's cancellation types). */
export type CancellationType = 'try-cancel' | 'wait-cancellation-completed' | 'abandon';

/** Activity options (all optional; durations in ms or as strings like `'30s'`); an unknown name throws. */
export interface ActivityOptions {
  /** The retry policy; when left out, the host's default. */
  retry?: RetryPolicy | null | undefined;
  /** Limit on one attempt; none means the host's default. */
  startToCloseTimeout?: Duration | null | undefined;
  /** Limit on the whole activity, every attempt and backoff included. */
  scheduleToCloseTimeout?: Duration | null | undefined;
  /** Limit on the wait for a worker to take a task (task queues only). */
  scheduleToStartTimeout?: Duration | null | undefined;
  /** An attempt that goes this long without a heartbeat is lost and retried. */
  heartbeatTimeout?: Duration | null | undefined;
  /** Run on the external workers polling this queue instead of in the host's activity components. */
  taskQueue?: string | null | undefined;
  /** What `ctx.cancel` does: `'try-cancel'` (the default), `'wait-cancellation-completed'` or `'abandon'`. */
  cancellationType?: CancellationType | null | undefined;
}

/** What happens to a child when its parent closes (`'requestCancel'` is an alias of `'request-cancel'`). */
export type ParentClosePolicy = 'terminate' | 'request-cancel' | 'requestCancel' | 'abandon';

/** Whether a child may reuse the id of an earlier execution. */
export type IdReusePolicy = 'allow-duplicate' | 'allow-duplicate-failed-only' | 'reject-duplicate';

/** Child workflow options. */
export interface ChildOptions {
  /** The child's execution id (default `<parent id>-<handle>`). */
  id?: string | null | undefined;
  /** `'terminate'` (the default), `'request-cancel'` or `'abandon'`. */
  parentClosePolicy?: ParentClosePolicy | null | undefined;
  /** `'allow-duplicate'` (the default), `'allow-duplicate-failed-only'` or `'reject-duplicate'`. */
  idReusePolicy?: IdReusePolicy | null | undefined;
  /** What `ctx.cancel` does: `'wait-cancellation-completed'` (the default for a child), `'try-cancel'` or `'abandon'`. */
  cancellationType?: CancellationType | null | undefined;
}

/** The host's default retry policy, spelled out: 1 s, doubling, capped at 100 s, unlimited attempts. */
export const DEFAULT_RETRY_POLICY: Readonly<{
  initialInterval: 1000;
  backoffCoefficient: 2;
  maximumInterval: 100000;
  maximumAttempts: 0;
  nonRetryableKinds: readonly string[];
}>;

/** A host log level. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** What `ctx.info()` returns. */
export interface WorkflowInfo {
  workflowType: string;
  executionId: string;
  /** sha-256 of the module this execution runs, hex. */
  module: string;
  /** Workflow time at which the execution started, ms since the Unix epoch. */
  startedAtMs: number;
}

/** One outcome of `ctx.joinAllSettled`. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: Failure };

/** What `ctx.select` races: pending commands and signal channels. */
export type Selectable = Pending<unknown> | SignalChannel<unknown>;

/** The value a Pending joins to, or a SignalChannel receives. */
export type ValueOf<C> = C extends Pending<infer T> ? T : C extends SignalChannel<infer T> ? T : never;

/** The outputs of a list (or tuple) of Pendings, in order. */
export type Outputs<P extends readonly Pending<unknown>[]> = { -readonly [K in keyof P]: ValueOf<P[K]> };

/** The outcomes of a list (or tuple) of Pendings, in order. */
export type SettledOutputs<P extends readonly Pending<unknown>[]> = { -readonly [K in keyof P]: Settled<ValueOf<P[K]>> };

/** What `ctx.choose` returns: the winner's key and its value. */
export type Chosen<C extends Record<string, Selectable>> = {
  [K in Extract<keyof C, string>]: { key: K; value: ValueOf<C[K]> };
}[Extract<keyof C, string>];

/**
 * A compile-time check that a workflow's `run` returns no Promise (workflow
 * code is synchronous: `async run` stalls the execution): `unknown` when `O`
 * holds no Promise, else an object type no function satisfies.
 */
export type SyncCheck<O> = 0 extends 1 & O
  ? unknown
  : [Extract<O, PromiseLike<unknown>>] extends [never]
    ? unknown
    : { 'weft workflow code is synchronous: run must not return a Promise (no async/await)': never };

// ---------------------------------------------------------------------------
// Pending commands and signal channels.

/**
 * A command started but not yet joined: an activity, a timer or a child.
 * Commands start at the next wait of the workflow (`join`, `select`, `sleep`).
 * `T` is the decoded JSON output it joins to.
 */
export class Pending<T = unknown> {
  /** Made by `ctx.startActivity`, `ctx.timer`, `ctx.startChild`... */
  private constructor(ctx: Ctx<unknown>, handle: bigint, what: string);
  private _ctx;
  private _settled;
  private _selectHandle;
  private _isReady;

  /** The host's handle for this command, as the history shows it (a BigInt). */
  readonly handle: bigint;
  /** What it is, for messages: e.g. ``activity `greet` ``. */
  readonly what: string;

  /** Waits for the command and returns its output; throws its Failure. */
  result(): T;
}

/**
 * The signals of one name, in the order they were sent. `T` is the decoded
 * JSON input of those signals. A receive that loses a select stays armed.
 */
export class SignalChannel<T = unknown> {
  /** Made by `ctx.signalChannel(name)`. */
  private constructor(ctx: Ctx<unknown>, name: string);
  private _ctx;
  private _armed;
  private _selectHandle;
  private _take;
  private _isReady;

  /** The signal name. */
  readonly name: string;

  /** Waits for the next signal and returns its input. */
  receive(): T;
  /** The next signal if one is waiting, else `undefined` (see `ctx.tryReceive`). */
  tryReceive(): T | undefined;
}

// ---------------------------------------------------------------------------
// The context.

/** The workflow's door to the host, and the owner of its state `S`. */
export class Ctx<S = Record<string, unknown>> {
  /** Made by the SDK for each run. */
  private constructor(def: unknown, state: S);
  private _def;
  private _ready;
  private _receives;
  private _handlerReceives;
  private _activities;
  private _inSignalHandler;
  private _serving;
  private _command;
  private _take;
  private _wait;
  private _withSignalHandlers;
  private _serve;

  /** The workflow's state: queries see it, updates change it. */
  state: S;
  /** The reason of a requested cancellation, once delivered. */
  readonly cancelReason: string | undefined;

  // --- activities ---

  /** Runs an activity and waits for its output (after retries); throws its final Failure. */
  activity<T = unknown>(name: string, input?: unknown, options?: ActivityOptions | null): T;
  /** Schedules an activity and returns at once; it starts at the next wait. */
  startActivity<T = unknown>(name: string, input?: unknown, options?: ActivityOptions | null): Pending<T>;
  /** Cancels what `pending` started, as its `cancellationType` option says (see the SDK README). */
  cancel(pending: Pending<unknown>): void;

  // --- other executions ---

  /** Sends signal `name` with `input` to the running execution `id`; joining returns once it is recorded there, or throws a `not-found` Failure. */
  signalExecution(id: string, name: string, input?: unknown): Pending<null>;
  /** `signalExecution` to the child `child` (a `startChild` Pending) started. */
  signalChild(child: Pending<unknown>, name: string, input?: unknown): Pending<null>;
  /** Asks the running execution `id` to cancel, as `weft cancel` would; completes like `signalExecution`. */
  cancelExecution(id: string, reason?: string): Pending<null>;

  // --- timers ---

  /** Starts a durable timer of `duration` workflow time (ms, or `'30s'`, `'2h'`...). */
  timer(duration: Duration): Pending<null>;
  /** Sleeps for `duration` of workflow time; durable across restarts. Throws a CancelledFailure only when the workflow is cancelled. */
  sleep(duration: Duration): void;

  // --- children ---

  /** Starts a child workflow of any deployed type; join it like an activity. */
  startChild<T = unknown>(workflowType: string, input?: unknown, options?: ChildOptions | null): Pending<T>;
  /** Runs a child workflow and waits for its result; throws its failure. */
  child<T = unknown>(workflowType: string, input?: unknown, options?: ChildOptions | null): T;

  // --- signals ---

  /** The channel of the signals named `name` (declare the name in `signals`); throws if the name has a handler. */
  signalChannel<T = unknown>(name: string): SignalChannel<T>;
  /** Waits for the next signal on `channel` and returns its input. */
  receive<T>(channel: SignalChannel<T>): T;
  /** Takes the next signal on `channel` without waiting, if this workflow task already knows it; `undefined` when none is waiting. */
  tryReceive<T>(channel: SignalChannel<T>): T | undefined;

  // --- waiting ---

  /** Waits for one pending command and returns its output; throws its Failure. */
  join<T>(pending: Pending<T>): T;
  /** Waits for all of `pendings`; returns their outputs in the order given, or throws the first failure (in that order) once all have completed. */
  joinAll<P extends readonly Pending<unknown>[]>(pendings: readonly [...P]): Outputs<P>;
  /** Waits for all of `pendings`; returns `{ok: true, value}` or `{ok: false, error}` for each, in the order given. */
  joinAllSettled<P extends readonly Pending<unknown>[]>(pendings: readonly [...P]): SettledOutputs<P>;
  /** Waits until the first of `candidates` completes and returns its index; the winner's result stays buffered (join or receive it). */
  select(candidates: readonly Selectable[]): number;
  /** Like `select`, but returns `null` as soon as `until(state)` holds (checked first, then after each update handler runs). */
  selectUntil(candidates: readonly Selectable[], until?: (state: S) => boolean): number | null;
  /** Like `select`, but throws the CancelledFailure when the workflow's cancellation ended the wait. */
  trySelect(candidates: readonly Selectable[]): number;
  /** A select by name: waits for the first of `candidates` and returns `{ key, value }`, the value received or joined (a failed one throws). */
  choose<C extends Record<string, Selectable>>(candidates: C): Chosen<C>;
  /** Blocks until `until(state)` holds; only update handlers (and signal handlers) can make it hold. */
  waitUntil(until: (state: S) => boolean): void;

  // --- versions, cancellation, long runs ---

  /** True when this run takes the new path of a code change, false when it replays a history recorded before it. */
  patched(patchId: string): boolean;
  /** The middle step of retiring a patch: only the new path remains. */
  deprecatePatch(patchId: string): void;
  // --- search attributes and memo ---

  /** Sets search attributes of this execution (null removes one), recorded in its history and indexed by the host: `weft list --query 'CustomerId = "c-42"'` finds it. They carry over to the next run of a continue-as-new. */
  upsertSearchAttributes(attributes: Record<string, SearchAttributeValue>): void;
  /** Sets fields of this execution's memo (any JSON each; null removes one): data shown with the execution, never searched. */
  upsertMemo(fields: Record<string, unknown>): void;
  /** This execution's search attributes as the code has set them so far (an int as a number, or a bigint past 2^53; a datetime as a Date; a keyword list as an array): the same on every replay. */
  searchAttributes(): Record<string, string | number | bigint | boolean | Date | string[]>;
  /** This execution's memo as the code has set it so far (decoded JSON). */
  memo(): Record<string, unknown>;

  /** Whether a cancellation was requested (`weft cancel`). */
  isCancelRequested(): boolean;
  /** Ends this run and starts the next one of the same id with `input`. Never returns. */
  continueAsNew(input?: unknown): never;
  /** The length of this run's history as the code has seen it. */
  historyLength(): number;
  /** True once the history passed the host's warning limit: continue as new. */
  continueAsNewSuggested(): boolean;

  // --- time, randomness, logs, info ---

  /** Workflow time, ms since the Unix epoch (the same as `Date.now()`). */
  now(): number;
  /** A float in [0, 1) from the run's seeded stream (the same as `Math.random()`). */
  random(): number;
  /** The next value of the host's seeded u64 stream, as a BigInt. */
  randomU64(): bigint;
  /** A log line on the host (level default `'info'`), not repeated in replays. */
  log(message: string, level?: LogLevel): void;
  /** `{ workflowType, executionId, module, startedAtMs }`. */
  info(): WorkflowInfo;
}

// ---------------------------------------------------------------------------
// Definitions.

/** A signal handler: runs for each signal of its name, in order, at the next wait. */
export type SignalHandler<S> = {
  bivarianceHack(ctx: Ctx<S>, input: unknown): void;
}['bivarianceHack'];

/** A query: read-only, never recorded; returns the answer (any JSON value, not a Promise). */
export type QueryHandler<S> = {
  bivarianceHack(state: S, input: unknown): unknown;
}['bivarianceHack'];

/** An update handler: may run commands; returns the update's result (any JSON value, not a Promise) or throws a Failure. */
export type UpdateHandler<S> = {
  bivarianceHack(ctx: Ctx<S>, input: unknown): unknown;
}['bivarianceHack'];

/** An update validator: throw a Failure (or return `false`) to reject the update; it sees the state only. */
export type UpdateValidator<S> = {
  bivarianceHack(state: S, input: unknown): boolean | void;
}['bivarianceHack'];

/** An update: a handler, or `{ handler, validate }`. */
export type UpdateDefinition<S> = UpdateHandler<S> | { handler: UpdateHandler<S>; validate?: UpdateValidator<S> | undefined };

/**
 * A workflow's body: `(ctx, input) => output`. `input` is the decoded JSON
 * input; the output is any JSON value. Throwing a Failure fails the execution.
 */
export type WorkflowFunction<S = Record<string, unknown>, I = unknown, O = unknown> = (ctx: Ctx<S>, input: I) => O;

/** The object form of `defineWorkflow`'s definition. */
export interface WorkflowDefinition<S = Record<string, unknown>, I = unknown, O = unknown> {
  /** The initial state (what queries see): a function, or a plain JSON value copied per run; default `{}`. */
  state?: S | (() => S) | undefined;
  /** Signal names received through channels, or an object: a handler per name, or `true` for a channel. */
  signals?: readonly string[] | Record<string, SignalHandler<S> | true> | undefined;
  /** Queries by name: `(state, input) => answer`. */
  queries?: Record<string, QueryHandler<S>> | undefined;
  /** Updates by name: a handler `(ctx, input) => result`, or `{ handler, validate }`. */
  updates?: Record<string, UpdateDefinition<S>> | undefined;
  /** The workflow's body: returns the output (any JSON value) or throws a Failure. */
  run(ctx: Ctx<S>, input: I): O;
}

/** The handler names a workflow component declares. */
export interface HandlerNames {
  signals: string[];
  queries: string[];
  updates: string[];
}

/** The three exports of a workflow component (world `workflow`). */
export interface WorkflowExports {
  /** Runs the workflow on JSON `input` bytes. */
  run(input: Uint8Array): WitResult;
  /** The signal, query and update names it declares. */
  handlers(): HandlerNames;
  /** Answers a query on a closed execution. */
  query(name: string, input: Uint8Array): WitResult;
}

/**
 * Defines the workflow of this component and returns its three exports:
 * `export const { run, handlers, query } = defineWorkflow((ctx, input) => output);`
 * or `defineWorkflow({ state, signals, queries, updates, run(ctx, input) { ... } })`.
 */
export function defineWorkflow<S = Record<string, unknown>, I = unknown, O = unknown>(
  definition: (WorkflowFunction<Record<string, unknown>, I, O> | WorkflowDefinition<S, I, O>) & SyncCheck<O>,
): WorkflowExports;

// ---------------------------------------------------------------------------
// Sagas.

/** The options of a `Saga`. */
export interface SagaOptions {
  /** Run the compensations all at once instead of latest first. */
  parallel?: boolean | undefined;
}

/**
 * Compensations registered after each successful step, run latest first (or
 * all at once with `new Saga({ parallel: true })`) when a later step fails;
 * each is an activity, retried under its options and recorded like any other.
 */
export class Saga {
  constructor(options?: SagaOptions);
  private _steps;

  /** Whether the compensations run all at once. */
  parallel: boolean;
  /** The number of compensations registered. */
  get length(): number;

  /** Registers the activity that undoes the step just done (`input` is copied now, as JSON). */
  add(activity: string, input?: unknown, options?: ActivityOptions | null): this;
  /** Runs the registered compensations and forgets them; returns the Failures of those that failed for good. */
  compensate(ctx: Ctx<unknown>): Failure[];
  /** Compensates, then returns the original Failure to throw (with the failed compensations in its details); anything but a Failure is rethrown at once. */
  compensateAndFail(ctx: Ctx<unknown>, error: unknown): Failure;
}
