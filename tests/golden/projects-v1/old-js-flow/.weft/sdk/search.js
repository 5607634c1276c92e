// Search attributes and memo: what `weft list --query` finds an execution
// by, and what `weft describe` shows with it.
//
// A plain value's type follows from it: a string is a keyword, a whole
// number an int, another number a double, a boolean a bool, a Date a
// datetime, an array of strings a keyword list. Say the type with
// `searchValue.text(...)`, `searchValue.double(...)` and the others where
// the plain value would mislead (`12` for a double attribute, a string to
// match by words). A name has one type on a host: the first value recorded
// decides, and a value of another type stalls the workflow, naming both.

import { encode } from './json.js';

function typed(tag, val) {
  return Object.freeze({ __weftSearchValue: true, tag, val });
}

/** Typed search attribute values. */
export const searchValue = Object.freeze({
  keyword: (v) => typed('keyword', String(v)),
  text: (v) => typed('text', String(v)),
  int: (v) => typed('int', BigInt(v)),
  double: (v) => typed('double', Number(v)),
  bool: (v) => typed('boolean', Boolean(v)),
  datetime: (v) => typed('datetime', BigInt(v instanceof Date ? v.getTime() : new Date(v).getTime())),
  keywordList: (v) => typed('keyword-list', Array.from(v, String)),
});

function toWit(name, v) {
  if (v && v.__weftSearchValue) {
    if (v.tag === 'double' && !Number.isFinite(v.val)) {
      throw new TypeError(`search attribute ${name}: ${v.val} is not a finite number`);
    }
    return { tag: v.tag, val: v.val };
  }
  switch (typeof v) {
    case 'string':
      return { tag: 'keyword', val: v };
    case 'boolean':
      return { tag: 'boolean', val: v };
    case 'bigint':
      return { tag: 'int', val: v };
    case 'number':
      if (Number.isSafeInteger(v)) return { tag: 'int', val: BigInt(v) };
      if (!Number.isFinite(v)) {
        throw new TypeError(`search attribute ${name}: ${v} is not a finite number`);
      }
      return { tag: 'double', val: v };
    default:
      break;
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw new TypeError(`search attribute ${name}: an invalid Date`);
    return { tag: 'datetime', val: BigInt(ms) };
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
    return { tag: 'keyword-list', val: v.slice() };
  }
  throw new TypeError(
    `search attribute ${name}: ${JSON.stringify(v)} has no search attribute type; give a ` +
      'string, number, boolean, Date, array of strings or a searchValue.*() value ' +
      '(null removes the attribute)',
  );
}

/** The WIT list for `upsert-search-attributes`: null or undefined removes a name. */
export function searchAttributeList(attributes) {
  return Object.entries(attributes).map(([name, v]) => ({
    name,
    value: v === null || v === undefined ? undefined : toWit(name, v),
  }));
}

/** The WIT list for `upsert-memo`: each value as JSON; null or undefined removes. */
export function memoList(fields) {
  return Object.entries(fields).map(([name, v]) => ({
    name,
    value: v === null || v === undefined ? undefined : encode(v),
  }));
}

/** `search-attributes()` as JavaScript values: an int as a Number (a BigInt
 * past 2^53), a datetime as a Date, a keyword list as an array. */
export function searchAttributesFromWit(list) {
  const out = {};
  for (const { name, value } of list) {
    if (value === undefined || value === null) continue;
    switch (value.tag) {
      case 'int': {
        const n = Number(value.val);
        out[name] = Number.isSafeInteger(n) ? n : value.val;
        break;
      }
      case 'datetime':
        out[name] = new Date(Number(value.val));
        break;
      default:
        out[name] = value.val;
    }
  }
  return out;
}

/** `memo()` as decoded JSON. */
export function memoFromWit(list, decode) {
  const out = {};
  for (const { name, value } of list) {
    if (value !== undefined && value !== null) out[name] = decode(value);
  }
  return out;
}
