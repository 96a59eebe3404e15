// Functions available in templates: Go's text/template builtins and the ones Podman adds
// (containers/common pkg/report/template.go DefaultFuncs: join json lower pad split title
// truncate upper). `and` and `or` are evaluated lazily by the executor, not here.

import { formatValue, goJSON, goTypeName, isPlainMap, sprint, sprintf, sprintln } from './gofmt.js';

/** A type or arity error: reported as is, not as `error calling NAME: ...`. */
export class ArgError extends Error {}

export type ParamType = 'string' | 'int' | '[]string' | 'any';

export interface FuncDef {
  /** Fixed parameter count, or the minimum for variadic functions. */
  min: number;
  variadic?: boolean;
  /** Go parameter types of the leading parameters; the executor converts and checks them. */
  params?: ParamType[];
  fn: (args: unknown[]) => unknown;
}

/** Checks and converts one argument; throws ArgError like Go's validateType. */
export function convertArg(type: ParamType, v: unknown): unknown {
  switch (type) {
    case 'string':
      return str(v);
    case 'int':
      return int(v);
    case '[]string':
      return strList(v);
    case 'any':
      return v;
  }
}

export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'number':
      return v !== 0 && !Number.isNaN(v);
    case 'bigint':
      return v !== 0n;
    case 'string':
      return v.length > 0;
    case 'function':
      return true;
  }
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return (v as ArrayLike<unknown>).length > 0;
  if (v instanceof Map) return v.size > 0;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) return Object.keys(v as object).length > 0;
  return true; // a class instance is a struct, which Go always treats as true
}

function wrongType(want: string, v: unknown): ArgError {
  if (v === undefined || v === null) return new ArgError(`invalid value; expected ${want}`);
  return new ArgError(`wrong type for value; expected ${want}; got ${goTypeName(v)}`);
}

/** A string parameter. Numbers and booleans are accepted and printed (Go would refuse them). */
export function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v instanceof Date) return formatValue(v);
  throw wrongType('string', v);
}

function int(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw wrongType('int', v);
}

function strList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => str(x));
  throw wrongType('[]string', v);
}

// ---------------------------------------------------------------- comparison

type Kind = 'bool' | 'number' | 'string' | 'nil' | 'other';

function kind(v: unknown): Kind {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function eq(args: unknown[]): boolean {
  const [a, ...rest] = args;
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const ka = kind(a);
  for (const b of rest) {
    const kb = kind(b);
    if (ka !== kb) {
      if (ka !== 'nil' && kb !== 'nil') throw new Error('incompatible types for comparison');
      continue;
    }
    if (ka === 'other') {
      if (a instanceof Date && b instanceof Date) {
        if (a.getTime() === b.getTime()) return true;
        continue;
      }
      // slices and maps are not comparable in Go; anything else compares by identity
      if (Array.isArray(a) || (isPlainMap(a) && Object.getPrototypeOf(a) === Object.prototype)) {
        throw new Error(`non-comparable type ${formatValue(a)}: ${goTypeName(a)}`);
      }
    }
    if (ka === 'nil' || a === b || (ka === 'number' && Number(a) === Number(b))) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = kind(a);
  const kb = kind(b);
  if (ka === 'nil' || ka === 'other' || kb === 'nil' || kb === 'other') throw new Error('invalid type for comparison');
  if (ka !== kb) throw new Error('incompatible types for comparison');
  if (ka === 'bool') throw new Error('invalid type for comparison');
  if (ka === 'string') return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string)) < 0;
  return Number(a) < Number(b);
}

// ---------------------------------------------------------------- escaping

/** Go's evalArgs for html/js/urlquery: a lone string is used as is, otherwise fmt.Sprint. */
function joinArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === '\0' ? '\uFFFD' : c === '"' ? '&#34;' : c === "'" ? '&#39;' : c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;',
  );
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (cp < 0x20 || (cp >= 0x7f && !/[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u.test(ch))) {
      out += '\\u' + cp.toString(16).toUpperCase().padStart(4, '0');
    } else out += ch;
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

// ---------------------------------------------------------------- index / slice / len

function length(v: unknown): number {
  if (v === null || v === undefined) throw new Error('len of nil pointer');
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return (v as ArrayLike<unknown>).length;
  if (v instanceof Map) return v.size;
  if (typeof v === 'object') return Object.keys(v).length;
  throw new Error(`len of type ${goTypeName(v)}`);
}

function indexInt(i: unknown, len: number, cap = len): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new Error(`cannot index slice/array with type ${goTypeName(i)}`);
  if (i < 0 || i > cap) throw new Error(`index out of range: ${i}`);
  return i;
}

function index(args: unknown[]): unknown {
  let item = args[0];
  if (item === null || item === undefined) throw new Error('index of untyped nil');
  for (const key of args.slice(1)) {
    if (item === null || item === undefined) throw new Error('index of nil pointer');
    if (typeof item === 'string') {
      const bytes = Buffer.from(item);
      const i = indexInt(key, bytes.length);
      if (i >= bytes.length) throw new Error(`index out of range: ${i}`);
      item = bytes[i];
    } else if (Array.isArray(item) || ArrayBuffer.isView(item)) {
      const arr = item as ArrayLike<unknown>;
      const i = indexInt(key, arr.length);
      if (i >= arr.length) throw new Error(`index out of range: ${i}`);
      item = arr[i];
    } else if (item instanceof Map) {
      item = item.has(key) ? item.get(key) : zeroOf(item.values());
    } else if (typeof item === 'object') {
      if (typeof key !== 'string') throw new Error(`value has type ${goTypeName(key)}; should be string`);
      const obj = item as Record<string, unknown>;
      item = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : zeroOf(Object.values(obj));
    } else {
      throw new Error(`can't index item of type ${goTypeName(item)}`);
    }
  }
  return item;
}

/**
 * The zero value Go's `index` returns for a missing map key: "" for a string map (labels,
 * annotations), nil otherwise. JavaScript maps carry no element type, so the values decide.
 */
function zeroOf(values: Iterable<unknown>): unknown {
  for (const v of values) if (typeof v !== 'string') return null;
  return '';
}

function slice(args: unknown[]): unknown {
  const item = args[0];
  const idx = args.slice(1);
  if (item === null || item === undefined) throw new Error('slice of untyped nil');
  if (typeof item === 'string') {
    if (idx.length > 2) throw new Error('cannot 3-index slice a string');
    const bytes = Buffer.from(item);
    const i = idx.length > 0 ? indexInt(idx[0], bytes.length) : 0;
    const j = idx.length > 1 ? indexInt(idx[1], bytes.length) : bytes.length;
    if (j < i) throw new Error(`invalid slice index: ${i} > ${j}`);
    return bytes.subarray(i, j).toString();
  }
  if (Array.isArray(item)) {
    if (idx.length > 3) throw new Error(`too many slice indexes: ${idx.length}`);
    const i = idx.length > 0 ? indexInt(idx[0], item.length) : 0;
    const j = idx.length > 1 ? indexInt(idx[1], item.length) : item.length;
    if (j < i) throw new Error(`invalid slice index: ${i} > ${j}`);
    return item.slice(i, j);
  }
  throw new Error(`can't slice item of type ${goTypeName(item)}`);
}

// ---------------------------------------------------------------- podman's extras

/** Go's strings.Title: upper-cases the first letter of each word. */
function title(s: string): string {
  return s.replace(/(^|[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f\s])(\p{Ll})/gu, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

/** Go's strings.Split. */
function split(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

function truncate(s: string, n: number): string {
  const chars = [...s];
  return chars.length < n ? s : chars.slice(0, Math.max(n, 0)).join('');
}

function padWithSpace(s: string, prefix: number, suffix: number): string {
  if (s === '') return s;
  return ' '.repeat(Math.max(prefix, 0)) + s + ' '.repeat(Math.max(suffix, 0));
}

export const BUILTINS: ReadonlyMap<string, FuncDef> = new Map<string, FuncDef>([
  ['and', { min: 1, variadic: true, fn: () => undefined }],
  ['or', { min: 1, variadic: true, fn: () => undefined }],
  ['not', { min: 1, fn: ([a]) => !truth(a) }],
  ['len', { min: 1, fn: ([a]) => length(a) }],
  ['index', { min: 1, variadic: true, fn: index }],
  ['slice', { min: 1, variadic: true, fn: slice }],
  ['eq', { min: 1, variadic: true, fn: eq }],
  ['ne', { min: 2, fn: (a) => !eq(a) }],
  ['lt', { min: 2, fn: ([a, b]) => lt(a, b) }],
  ['le', { min: 2, fn: ([a, b]) => lt(a, b) || eq([a, b]) }],
  ['gt', { min: 2, fn: ([a, b]) => !(lt(a, b) || eq([a, b])) }],
  ['ge', { min: 2, fn: ([a, b]) => !lt(a, b) }],
  ['print', { min: 0, variadic: true, fn: (a) => sprint(a) }],
  ['printf', { min: 1, variadic: true, params: ['string'], fn: ([f, ...rest]) => sprintf(f as string, rest) }],
  ['println', { min: 0, variadic: true, fn: (a) => sprintln(a) }],
  ['html', { min: 0, variadic: true, fn: (a) => htmlEscape(joinArgs(a)) }],
  ['js', { min: 0, variadic: true, fn: (a) => jsEscape(joinArgs(a)) }],
  ['urlquery', { min: 0, variadic: true, fn: (a) => urlQueryEscape(joinArgs(a)) }],
  ['call', { min: 1, variadic: true, fn: () => undefined }], // handled by the executor
  // podman (containers/common pkg/report DefaultFuncs)
  ['join', { min: 2, params: ['[]string', 'string'], fn: ([a, sep]) => (a as string[]).join(sep as string) }],
  // podman's json uses an Encoder with SetEscapeHTML(false): "<none>" stays readable
  ['json', { min: 1, fn: ([v]) => goJSON(v, { escapeHTML: false }) }],
  ['lower', { min: 1, params: ['string'], fn: ([s]) => (s as string).toLowerCase() }],
  ['pad', { min: 3, params: ['string', 'int', 'int'], fn: ([s, p, q]) => padWithSpace(s as string, p as number, q as number) }],
  ['split', { min: 2, params: ['string', 'string'], fn: ([s, sep]) => split(s as string, sep as string) }],
  ['title', { min: 1, params: ['string'], fn: ([s]) => title(s as string) }],
  ['truncate', { min: 2, params: ['string', 'int'], fn: ([s, n]) => truncate(s as string, n as number) }],
  ['upper', { min: 1, params: ['string'], fn: ([s]) => (s as string).toUpperCase() }],
]);
