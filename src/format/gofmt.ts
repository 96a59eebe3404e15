// Go's fmt package, as far as templates need it: %v printing of values, Sprint/Sprintln,
// Sprintf with the common verbs, strconv-exact float formatting and strconv.Quote.
// JavaScript has one number type: integral numbers print like Go ints, others like float64.

import { formatFloat } from './gofloat.js';
import { formatRFC3339Nano, goTimeString } from './units.js';

export { formatFloat };

/** Objects that print themselves, like a Go value with a String() method. */
function stringerText(v: object): string | undefined {
  if (v instanceof Date) return goTimeString(v);
  if (v instanceof Error) return v.message;
  const ts = (v as { toString?: unknown }).toString;
  if (typeof ts === 'function' && ts !== Object.prototype.toString && ts !== Array.prototype.toString) {
    return String(ts.call(v));
  }
  return undefined;
}

export function isPlainMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  if (v instanceof Map || v instanceof Date || v instanceof Error) return false;
  return true;
}

/** Map entries sorted like Go's fmtsort (byte order of keys). */
export function sortedEntries(v: object): [string, unknown][] {
  const entries: [string, unknown][] =
    v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x]) : Object.entries(v);
  return entries.sort((a, b) => compareBytes(a[0], b[0]));
}

export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Go's type name for a value, used in error messages (`%!d(string=x)`, `can't evaluate field`). */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float64';
    case 'bigint':
      return 'int64';
    case 'function':
      return 'func';
  }
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return '[]interface {}';
  if (v instanceof Date) return 'time.Time';
  if (v instanceof Map) return 'map[string]interface {}';
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
  if (proto && proto !== Object.prototype && proto.constructor?.name) return proto.constructor.name;
  return 'map[string]interface {}';
}

// ---------------------------------------------------------------- quoting

function isGoPrint(ch: string): boolean {
  return ch === ' ' || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch);
}

/** strconv.Quote (asciiOnly: strconv.QuoteToASCII). */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp >= 0x7f && !asciiOnly && isGoPrint(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

function quoteRune(cp: number): string {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  const ch = String.fromCodePoint(cp);
  if (ch === "'") return "'\\''";
  if (ch === '"') return `'"'`;
  return "'" + goQuote(ch).slice(1, -1) + "'";
}

// ---------------------------------------------------------------- %v printing

/** fmt.Sprint of a single value (the %v verb). */
export function formatValue(v: unknown): string {
  return fmtArg(v, { verb: 'v', ...NO_FLAGS });
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const isString = typeof args[i] === 'string';
    if (i > 0 && !isString && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(args[i]);
  }
  return out;
}

/** fmt.Sprintln: always spaces, trailing newline. */
export function sprintln(args: readonly unknown[]): string {
  return args.map((a) => formatValue(a)).join(' ') + '\n';
}

// ---------------------------------------------------------------- Sprintf

interface Spec {
  verb: string;
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
}

const NO_FLAGS = { minus: false, plus: false, sharp: false, space: false, zero: false };

function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, spec: Spec, zeroOk = false): string {
  if (spec.width === undefined) return s;
  const n = spec.width - runeLength(s);
  if (n <= 0) return s;
  if (spec.minus) return s + ' '.repeat(n);
  if (spec.zero && zeroOk) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return ' '.repeat(n) + s;
}

function badVerb(v: unknown, verb: string): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${formatValue(v)})`;
}

function fmtInteger(n: bigint, spec: Spec): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  let digits: string;
  let prefix = '';
  switch (spec.verb) {
    case 'b':
      digits = abs.toString(2);
      if (spec.sharp) prefix = '0b';
      break;
    case 'o':
    case 'O':
      digits = abs.toString(8);
      if (spec.verb === 'O') prefix = '0o';
      else if (spec.sharp && digits !== '0') prefix = '0';
      break;
    case 'x':
      digits = abs.toString(16);
      if (spec.sharp) prefix = '0x';
      break;
    case 'X':
      digits = abs.toString(16).toUpperCase();
      if (spec.sharp) prefix = '0X';
      break;
    default:
      digits = abs.toString(10);
  }
  if (spec.prec !== undefined) {
    if (spec.prec === 0 && abs === 0n) digits = '';
    digits = digits.padStart(spec.prec, '0');
  }
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  const body = prefix + digits;
  // zero padding goes between the sign/prefix and the digits
  if (spec.zero && !spec.minus && spec.prec === undefined && spec.width !== undefined) {
    const n = spec.width - sign.length - body.length;
    if (n > 0) return sign + prefix + '0'.repeat(n) + digits;
  }
  return pad(sign + body, spec);
}

function fmtNumber(x: number, spec: Spec): string {
  const verb = spec.verb;
  if ('eEfFgG'.includes(verb) || (verb === 'v' && !Number.isInteger(x))) {
    const f = verb === 'v' ? 'g' : verb === 'F' ? 'f' : (verb as 'e' | 'E' | 'f' | 'g' | 'G');
    const prec = spec.prec ?? ('eEfF'.includes(verb) ? 6 : -1);
    let s = formatFloat(x, f, prec);
    if (spec.plus && !s.startsWith('-') && !s.startsWith('+')) s = '+' + s;
    else if (spec.space && !s.startsWith('-') && !s.startsWith('+')) s = ' ' + s;
    if (!Number.isFinite(x)) return pad(s, { ...spec, zero: false });
    return pad(s, spec, true);
  }
  if (!Number.isInteger(x)) return badVerb(x, verb);
  switch (verb) {
    case 'v':
    case 'd':
    case 'b':
    case 'o':
    case 'O':
    case 'x':
    case 'X':
      return fmtInteger(BigInt(x), spec);
    case 'c':
      return pad(String.fromCodePoint(validRune(x)), spec);
    case 'q':
      return pad(quoteRune(x), spec);
    case 'U': {
      let s = 'U+' + x.toString(16).toUpperCase().padStart(4, '0');
      if (spec.sharp && isGoPrint(String.fromCodePoint(validRune(x)))) s += ` '${String.fromCodePoint(x)}'`;
      return pad(s, spec);
    }
  }
  return badVerb(x, verb);
}

function validRune(x: number): number {
  return x < 0 || x > 0x10ffff || (x >= 0xd800 && x <= 0xdfff) ? 0xfffd : x;
}

function fmtString(s: string, spec: Spec): string {
  switch (spec.verb) {
    case 'v':
    case 's': {
      if (spec.prec !== undefined) s = [...s].slice(0, spec.prec).join('');
      return pad(s, spec, true);
    }
    case 'q':
      if (spec.sharp && !/[`\x00-\x08\x0a-\x1f\x7f\ufeff]/.test(s)) return pad('`' + s + '`', spec);
      return pad(goQuote(s, spec.plus), spec);
    case 'x':
    case 'X': {
      let bytes = [...Buffer.from(s)];
      if (spec.prec !== undefined) bytes = bytes.slice(0, spec.prec);
      const parts = bytes.map((b) => {
        const h = b.toString(16).padStart(2, '0');
        return spec.verb === 'X' ? h.toUpperCase() : h;
      });
      const px = spec.sharp ? (spec.verb === 'X' ? '0X' : '0x') : '';
      const out = spec.space ? parts.map((p) => px + p).join(' ') : px + parts.join('');
      return pad(out, spec);
    }
  }
  return badVerb(s, spec.verb);
}

function fmtArg(v: unknown, spec: Spec): string {
  const verb = spec.verb;
  if (verb === 'T') return pad(goTypeName(v), spec);
  if (v === null || v === undefined) return verb === 'v' ? pad('<nil>', spec) : badVerb(v, verb);
  switch (typeof v) {
    case 'boolean':
      return verb === 'v' || verb === 't' ? pad(String(v), spec) : badVerb(v, verb);
    case 'number':
      return fmtNumber(v, spec);
    case 'bigint':
      return 'dbboOxXv'.includes(verb) ? fmtInteger(v, spec) : badVerb(v, verb);
    case 'string':
      return fmtString(v, spec);
    case 'function':
      return verb === 'v' || verb === 'p' ? pad('0x0', spec) : badVerb('func', verb);
    case 'symbol':
      return pad(String(v), spec);
  }
  const obj = v as object;
  if ('vsqxX'.includes(verb)) {
    const text = stringerText(obj);
    if (text !== undefined) return fmtString(text, spec);
  }
  if (Array.isArray(obj) || ArrayBuffer.isView(obj)) {
    // like Go, flags and width apply to each element, not to the whole
    const items = Array.from(obj as ArrayLike<unknown>);
    return '[' + items.map((x) => fmtArg(x, spec)).join(' ') + ']';
  }
  const parts = sortedEntries(obj).map(([k, x]) => `${fmtArg(k, spec)}:${fmtArg(x, spec)}`);
  return 'map[' + parts.join(' ') + ']';
}

/** fmt.Sprintf for the verbs Go templates use in practice. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  let i = 0;
  const n = format.length;
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { verb: '', ...NO_FLAGS };
    for (; i < n; i++) {
      const c = format[i];
      if (c === '#') spec.sharp = true;
      else if (c === '0') spec.zero = !spec.minus;
      else if (c === '+') spec.plus = true;
      else if (c === '-') {
        spec.minus = true;
        spec.zero = false;
      } else if (c === ' ') spec.space = true;
      else break;
    }
    // explicit argument index [n]
    const argIndex = (): void => {
      const m = /^\[(\d+)\]/.exec(format.slice(i));
      if (m) {
        argNum = Number(m[1]) - 1;
        reordered = true;
        i += m[0].length;
      }
    };
    argIndex();
    if (format[i] === '*') {
      i++;
      const w = args[argNum++];
      if (typeof w === 'number' && Number.isInteger(w)) {
        spec.width = Math.abs(w);
        if (w < 0) {
          spec.minus = true;
          spec.zero = false;
        }
      } else out += '%!(BADWIDTH)';
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        spec.width = Number(m[0]);
        i += m[0].length;
      }
    }
    if (format[i] === '.') {
      i++;
      argIndex();
      if (format[i] === '*') {
        i++;
        const p = args[argNum++];
        if (typeof p === 'number' && Number.isInteger(p) && p >= 0) spec.prec = p;
        else out += '%!(BADPREC)';
      } else {
        const m = /^\d+/.exec(format.slice(i));
        spec.prec = m ? Number(m[0]) : 0;
        if (m) i += m[0].length;
      }
    }
    argIndex();
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    spec.verb = verb;
    out += fmtArg(args[argNum++], spec);
  }
  if (!reordered && argNum < args.length) {
    out +=
      '%!(EXTRA ' +
      args
        .slice(argNum)
        .map((a) => (a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${formatValue(a)}`))
        .join(', ') +
      ')';
  }
  return out;
}

// ---------------------------------------------------------------- JSON

export interface GoJSONOptions {
  /** Indent string for json.MarshalIndent (Go's podman `--format json` uses four spaces). */
  indent?: string;
  /** json.Marshal escapes <, > and & as \u003c...; Encoder.SetEscapeHTML(false) does not. */
  escapeHTML?: boolean;
}

/**
 * encoding/json output: Dates as RFC 3339 with nanoseconds, undefined as null, maps in key order
 * (JS objects stand in for Go structs, so their own order is kept), U+2028/U+2029 escaped.
 */
export function goJSON(value: unknown, opts: GoJSONOptions = {}): string {
  const replacer = function (this: Record<string, unknown>, key: string, v: unknown): unknown {
    const orig = this[key];
    if (orig instanceof Date) return formatRFC3339Nano(orig);
    if (orig instanceof Map) return Object.fromEntries(sortedEntries(orig));
    if (typeof v === 'bigint') return Number(v);
    return v;
  };
  let s = JSON.stringify(value === undefined ? null : value, replacer, opts.indent) ?? 'null';
  s = s.replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
  if (opts.escapeHTML) s = s.replace(/[<>&]/g, (c) => (c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026'));
  return s;
}
