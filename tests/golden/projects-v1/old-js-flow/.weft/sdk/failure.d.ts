// Type declarations for failure.js: what a workflow or an activity reports,
// and what it gets back.
//
// A `Failure` is an Error with the fields of the WIT `failure` record: a
// machine-readable `kind`, a `message` for people, optional JSON `details`,
// and `nonRetryable`. The host's own kinds come back as the subclasses below.

/** The options of a `Failure`. */
export interface FailureOptions {
  /** Structured details: any JSON value. */
  details?: unknown;
  /** Stops the host from retrying it (an activity's failure). */
  nonRetryable?: boolean | undefined;
  /** The underlying error (`Error.cause`). */
  cause?: unknown;
}

/** Why an activity's retries stopped. */
export type RetryState = 'maximum-attempts-reached' | 'non-retryable' | 'timeout' | 'cancelled';

/** Which limit a `TimeoutFailure` hit. */
export type TimeoutType = 'start-to-close' | 'heartbeat' | 'schedule-to-close' | 'schedule-to-start';

/** The envelope of an activity's failure as a workflow receives it (`failure.activity`). */
export interface ActivityFailureInfo {
  /** The attempts that ran. */
  attempts: number;
  /** Why no other attempt follows. */
  retryState: RetryState;
  /** The last attempt's own Failure (none for a cancellation). */
  cause: Failure | undefined;
}

/** The WIT `failure` record (details as JSON bytes). */
export interface WitFailure {
  kind: string;
  message: string;
  details: Uint8Array | undefined;
  nonRetryable: boolean;
}

/** A WIT `result<payload, failure>` as the componentize-js bindings take it. */
export type WitResult = { tag: 'ok'; val: Uint8Array } | { tag: 'err'; val: WitFailure };

/** A Failure as `JSON.stringify` writes it (the host's JSON `Failure`). */
export interface FailureJSON {
  kind: string;
  message: string;
  details?: unknown;
  non_retryable: boolean;
}

/** A failure: an Error with a machine-readable `kind`, JSON `details` and `nonRetryable`. */
export class Failure extends Error {
  /**
   * @param kind short machine-readable kind, e.g. `InvalidInput`
   * @param message what went wrong, for a person
   */
  constructor(kind: string, message: string, options?: FailureOptions);

  /** A short machine-readable kind, e.g. `InvalidInput`. */
  kind: string;
  /** Structured details: any JSON value (undefined when none). */
  details: unknown;
  /** Set to stop the host from retrying it. */
  nonRetryable: boolean;
  /** On an activity's failure as a workflow receives it: `{attempts, retryState, cause}`; undefined on any other failure. */
  activity: ActivityFailureInfo | undefined;

  /** A failure the host does not retry. */
  static nonRetryable(kind: string, message: string, options?: FailureOptions): Failure;
  /** The failure of a cancelled operation (`<what> was cancelled`); throwing it from a cancelled workflow ends the execution as `cancelled`. */
  static cancelled(what: string): CancelledFailure;
  /** Any thrown value as a Failure: a Failure stays itself, another Error keeps its name as the kind (retryable), anything else becomes `Error`. */
  static from(err: unknown): Failure;
  /** A WIT `failure` record as the matching class. */
  static fromWit(rec: WitFailure): Failure;

  /** Whether the kind is `cancelled`. */
  get isCancelled(): boolean;
  /** Sets the details (any JSON value) and returns the failure. */
  withDetails(details: unknown): this;
  /** `<kind>: <message>`. */
  toString(): string;
  /** `{ kind, message, details?, non_retryable }`. */
  toJSON(): FailureJSON;
  /** The WIT `failure` record (details as JSON bytes). */
  toWit(): WitFailure;
}

/** Kind `cancelled`: a cancelled timer, activity, child or workflow. */
export class CancelledFailure extends Failure {
  /** `message` defaults to `'cancelled'`; never retried unless `options.nonRetryable` is false. */
  constructor(message?: string, options?: FailureOptions);
  kind: 'cancelled';
}

/** Kind `timeout`: an activity timed out; `details.timeout` says which limit. */
export class TimeoutFailure extends Failure {
  constructor(message: string, options?: FailureOptions);
  kind: 'timeout';
  /** Which limit fired (`details.timeout`): `start-to-close`, `heartbeat`, `schedule-to-close`, `schedule-to-start`. */
  get timeoutType(): TimeoutType | undefined;
}

/** Kind `activity-not-found`: no deployed activity component serves the name. */
export class ActivityNotFoundFailure extends Failure {
  constructor(message: string, options?: FailureOptions);
  kind: 'activity-not-found';
}

/** Kind `activity-trap`: the activity crashed (a trap, not a failure). */
export class ActivityTrapFailure extends Failure {
  constructor(message: string, options?: FailureOptions);
  kind: 'activity-trap';
}

/** Kind `InvalidInput`: an input that is not the JSON expected; never retried. */
export class InvalidInputFailure extends Failure {
  constructor(message: string, options?: FailureOptions);
  kind: 'InvalidInput';
}
