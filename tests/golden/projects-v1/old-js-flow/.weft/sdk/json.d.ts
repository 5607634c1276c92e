// Type declarations for json.js: payloads and durations.
//
// Payloads cross the component boundary as UTF-8 JSON: `undefined` is written
// as `null`, and empty bytes (a timer's completion, an empty input) read as
// `null`.

/**
 * A duration: a number of milliseconds, or a string such as `'500ms'`,
 * `'30s'`, `'5m'`, `'2h'`, `'3d'` (also `'1h30m'`). A bigint is taken as ms.
 */
export type Duration = number | string | bigint;

/** A JSON value as payload bytes (`undefined`, a function or a symbol as `null`). */
export function encode(value: unknown): Uint8Array;

/** Payload bytes as a JSON value (`null` for empty bytes); throws a SyntaxError when they are not JSON. */
export function decode(bytes: Uint8Array | null | undefined): unknown;

/** Failure details: JSON when they parse, otherwise the text (as the host does). */
export function decodeDetails(bytes: Uint8Array): unknown;

/** A duration in milliseconds: a number of ms, or a string such as `500ms`, `30s`, `5m`, `2h`, `3d` (also `1h30m`). */
export function millis(d: bigint): bigint;
export function millis(d: number | string): number;
export function millis(d: Duration): number | bigint;
