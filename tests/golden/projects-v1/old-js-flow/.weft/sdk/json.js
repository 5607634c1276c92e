// Payloads and durations.
//
// Payloads cross the component boundary as UTF-8 JSON, exactly as in the Rust
// SDK: `undefined` is written as `null`, and empty bytes (a timer's
// completion, an empty input) read as `null`.

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** A JSON value as payload bytes. */
export function encode(value) {
  const text = JSON.stringify(value === undefined ? null : value);
  // JSON.stringify returns undefined for a bare function or symbol.
  return ENCODER.encode(text === undefined ? 'null' : text);
}

/** Payload bytes as a JSON value; throws a SyntaxError when they are not JSON. */
export function decode(bytes) {
  if (!bytes || bytes.length === 0) return null;
  return JSON.parse(DECODER.decode(bytes));
}

/** Failure details: JSON when they parse, otherwise the text (as the host does). */
export function decodeDetails(bytes) {
  try {
    return decode(bytes);
  } catch {
    return DECODER.decode(bytes);
  }
}

const UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 };

/**
 * A duration in milliseconds: a number of ms, or a string such as `500ms`,
 * `30s`, `5m`, `2h`, `3d` (also `1h30m`).
 */
export function millis(d) {
  if (typeof d === 'bigint') return d;
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new RangeError(`not a duration: ${d}`);
    return Math.round(d);
  }
  if (typeof d === 'string') {
    const re = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g;
    let total = 0;
    let consumed = '';
    for (const m of d.matchAll(re)) {
      total += Number(m[1]) * UNITS[m[2]];
      consumed += m[0];
    }
    if (consumed.replace(/\s/g, '') !== d.replace(/\s/g, '') || consumed === '') {
      throw new RangeError(`not a duration: "${d}" (write e.g. 500, "30s", "5m", "1h30m", "2d")`);
    }
    return Math.round(total);
  }
  throw new TypeError(`not a duration: ${String(d)}`);
}
