// Type declarations for activity.js: the activity side of the weft
// JavaScript SDK.
//
//   import { defineActivities, Failure } from '<sdk>/activity.js';
//   export const { activities, execute } = defineActivities({
//     js_reverse(ctx, text: string) { return [...text].reverse().join(''); },
//   });
//
// An activity returns its output (any JSON value, or a Promise of one) or
// throws: a `Failure` as it is, any other Error as a retryable failure whose
// kind is the error's name.

import type { WitResult } from './failure.js';

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

/**
 * What the host says about the attempt being run. `H` is the type of the
 * heartbeat details this activity records (JSON).
 */
export class ActivityContext<H = unknown> {
  /** Made by the SDK for each attempt. */
  private constructor(info: unknown);
  private _details;

  /** The execution of the workflow that scheduled this activity. */
  readonly executionId: string;
  /** The handle the workflow scheduled this activity under (a BigInt). */
  readonly activityHandle: bigint;
  /** The activity name, as the workflow called it. */
  readonly name: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The same on every attempt of one scheduled activity (`<execution id>/<handle>`): key side effects on it. */
  readonly idempotencyKey: string;

  /** The details of the last heartbeat of an earlier attempt (where to resume), or undefined on a first attempt or when they are not JSON. */
  get heartbeatDetails(): H | undefined;

  /** Records progress (kept durably, handed to the next attempt); returns true when the activity was cancelled: it should stop (throw `Failure.cancelled(...)`). */
  heartbeat(details?: H): boolean;
}

/**
 * An activity: `(ctx, input) => output`, where `input` is the decoded JSON
 * input (annotate it with the shape you expect) and the output is any JSON
 * value or a Promise of one.
 */
export type ActivityFunction = {
  // Method syntax: a handler whose parameters are annotated more narrowly
  // (e.g. `input: string`, `ctx: ActivityContext<number>`) is accepted.
  bivarianceHack(ctx: ActivityContext, input: unknown): unknown;
}['bivarianceHack'];

/** The two exports of an activity component (world `activity`). */
export interface ActivityExports {
  /** The names this component serves. */
  activities(): string[];
  /** Runs activity `name` on JSON `input` bytes; a Promise for an async activity. */
  execute(name: string, input: Uint8Array): WitResult | Promise<WitResult>;
}

/**
 * Defines the activities of this component and returns its two exports:
 * `export const { activities, execute } = defineActivities({ name(ctx, input) { ... } });`
 * Each key is an activity name, as workflows call it (names are global on a host: prefix them).
 */
export function defineActivities(fns: Record<string, ActivityFunction>): ActivityExports;
