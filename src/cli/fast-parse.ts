// A parser for the argument lists people type every day (`run --rm -it -v a:b IMAGE CMD...`), built
// from the same flag tables as the yargs parser and giving the same result object. Building a yargs
// instance costs several milliseconds on each call, which is a noticeable share of `run`; this
// costs microseconds. It only accepts what it is sure to read exactly as yargs would and returns
// undefined for anything else (--help, an unknown flag, a missing value, a bad choice or number,
// `--flag=` forms of short flags...), so yargs still owns every error message and every corner.
// test/unit/cli-fast-parse.test.ts checks it against yargs on a corpus of command lines.
import type { CommandSpec, FlagSpec } from './command.js';

type Parsed = Record<string, unknown> & { _: string[]; '--'?: string[] };

function camel(k: string): string {
  return k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

interface Table {
  long: Map<string, [string, FlagSpec]>;
  short: Map<string, [string, FlagSpec]>;
}

const tables = new WeakMap<object, Table>();

function table(flags: Record<string, FlagSpec>, globals: Record<string, FlagSpec>): Table {
  const cached = tables.get(flags);
  if (cached) return cached;
  const t: Table = { long: new Map(), short: new Map() };
  for (const src of [flags, globals]) {
    for (const [k, f] of Object.entries(src)) {
      if (!t.long.has(k)) t.long.set(k, [k, f]);
      for (const a of f.alias === undefined ? [] : Array.isArray(f.alias) ? f.alias : [f.alias]) {
        const m = a.length === 1 ? t.short : t.long;
        if (!m.has(a)) m.set(a, [k, f]);
      }
    }
  }
  tables.set(flags, t);
  return t;
}

/** A value yargs would read differently (as a flag, a boolean word, or a number) or refuse. */
function plainValue(v: string | undefined): v is string {
  return v !== undefined && !(v.startsWith('-') && v !== '-');
}

function setValue(out: Parsed, key: string, f: FlagSpec, raw: string): boolean {
  if (f.choices && !f.choices.includes(raw)) return false;
  if (f.type === 'number') {
    if (!/^[0-9]+$/.test(raw) || raw.length > 15) return false;
    out[key] = Number(raw);
  } else if (f.type === 'array') {
    const prev = out[key];
    out[key] = Array.isArray(prev) && prev !== f.default ? [...prev, raw] : [raw];
  } else out[key] = raw;
  return true;
}

/** Parses `rest` as yargs would with tspod's configuration, or returns undefined. */
export function fastParse(spec: CommandSpec<any>, globals: Record<string, FlagSpec>, rest: readonly string[]): Parsed | undefined {
  const flags = spec.flags ?? {};
  const t = table(flags, globals);
  const out: Parsed = { _: [] };
  for (const src of [globals, flags]) {
    for (const [k, f] of Object.entries(src)) {
      if (f.default !== undefined) out[k] = f.default;
      else if (f.type === 'boolean' && out[k] === undefined) continue;
      else if (f.type === 'count') out[k] = 0;
    }
  }
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      if (!spec.haltAtNonOption) return undefined;
      out['--'] = rest.slice(i + 1);
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const hit = t.long.get(name);
      if (!hit || name === 'help') return undefined;
      const [key, f] = hit;
      if (f.type === 'boolean') {
        if (eq < 0) {
          // yargs reads a following true/false as the flag's value
          const next = rest[i + 1];
          if (next === 'true' || next === 'false') return undefined;
          out[key] = true;
        } else {
          const v = a.slice(eq + 1);
          if (v !== 'true' && v !== 'false') return undefined;
          out[key] = v === 'true';
        }
        continue;
      }
      if (f.type === 'count') {
        if (eq >= 0) return undefined;
        out[key] = (out[key] as number) + 1;
        continue;
      }
      let v: string | undefined;
      if (eq >= 0) v = a.slice(eq + 1);
      else {
        v = rest[++i];
        if (!plainValue(v)) return undefined;
      }
      if (!setValue(out, key, f, v)) return undefined;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // -x, -x VALUE, or a cluster of one-letter booleans whose last may take a value: -it, -dp 80
      for (let j = 1; j < a.length; j++) {
        const hit = t.short.get(a[j]!);
        if (!hit || a[j] === 'h') return undefined;
        const [key, f] = hit;
        if (f.type === 'boolean') out[key] = true;
        else if (f.type === 'count') out[key] = (out[key] as number) + 1;
        else {
          if (j !== a.length - 1) return undefined; // -p80, -e=X: yargs has its own readings
          const v = rest[++i];
          if (!plainValue(v) || !setValue(out, key, f, v)) return undefined;
        }
      }
      // yargs reads a true/false after a trailing boolean as its value
      if ((rest[i + 1] === 'true' || rest[i + 1] === 'false') && t.short.get(a[a.length - 1]!)?.[1].type === 'boolean') return undefined;
      continue;
    }
    if (spec.haltAtNonOption) {
      // yargs stops here and hands this word and everything after it over as `--`
      out['--'] = rest.slice(i);
      break;
    }
    if (/^-?[0-9]/.test(a)) return undefined; // yargs turns numeric positionals into numbers
    positional.push(a);
  }
  out._ = positional;
  if (spec.haltAtNonOption && out['--'] === undefined) out['--'] = [];
  for (const k of Object.keys(out)) {
    if (k.includes('-') && k !== '--') out[camel(k)] = out[k];
  }
  return out;
}
