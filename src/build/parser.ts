// Containerfile/Dockerfile parser: directives, comments, line continuations, heredocs, JSON (exec)
// forms, and variable substitution. Pure: text in, instructions out; errors name file:line.
import { TspodError } from '../errors.js';

export interface Instruction {
  /** Upper-case keyword: RUN, COPY, ... */
  cmd: string;
  /** Flags given as --name=value (COPY --from, --chown, --chmod; HEALTHCHECK --interval ...). */
  flags: Record<string, string>;
  /** Every flag in order, repeated ones too (RUN --mount can appear several times). */
  flagList: Array<[string, string]>;
  /** Arguments: the exec form's list, or the shell form's words (JSON: false). */
  args: string[];
  /** true: exec (JSON) form. */
  json: boolean;
  /** The text after the keyword (and flags), unsubstituted: the shell form's command. */
  raw: string;
  /** The original text, continuation lines joined, for messages, history and cache keys. */
  original: string;
  line: number;
  /** Heredoc bodies (`RUN <<EOF`), in order. */
  heredocs: Array<{ name: string; body: string }>;
}

export interface Stage {
  base: string;
  name?: string;
  index: number;
  from: Instruction;
  instructions: Instruction[];
}

export interface ParsedFile {
  file: string;
  /** ARGs declared before the first FROM. */
  globalArgs: Instruction[];
  stages: Stage[];
  escape: string;
}

const KNOWN = new Set([
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
]);

export function buildError(file: string, line: number, what: string, message: string): TspodError {
  return new TspodError('invalid-argument', `${file}:${line}: ${what}: ${message}`);
}

/** Splits a logical instruction into the parsed form. */
function parseInstruction(file: string, text: string, line: number, escape: string, heredocs: Array<{ name: string; body: string }>): Instruction {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(text);
  if (!m) throw buildError(file, line, text, 'empty instruction');
  const cmd = m[1]!.toUpperCase();
  if (!KNOWN.has(cmd)) throw buildError(file, line, m[1]!, `unknown instruction: ${m[1]}`);
  let rest = m[2]!.trim();
  const flags: Record<string, string> = {};
  const flagList: Array<[string, string]> = [];
  if (['COPY', 'ADD', 'RUN', 'FROM', 'HEALTHCHECK'].includes(cmd)) {
    for (;;) {
      const f = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
      if (!f) break;
      flags[f[1]!] = f[2] ?? 'true';
      flagList.push([f[1]!, f[2] ?? 'true']);
      rest = rest.slice(f[0].length);
    }
  }
  let args: string[];
  let json = false;
  if (['RUN', 'CMD', 'ENTRYPOINT', 'COPY', 'ADD', 'VOLUME', 'SHELL'].includes(cmd) && rest.startsWith('[')) {
    try {
      const j = JSON.parse(rest) as unknown;
      if (Array.isArray(j) && j.every((x) => typeof x === 'string')) {
        args = j as string[];
        json = true;
      } else args = splitWords(rest, escape);
    } catch {
      if (cmd === 'SHELL') throw buildError(file, line, 'SHELL', 'requires the arguments to be in JSON form');
      args = splitWords(rest, escape);
    }
  } else if (cmd === 'RUN' || cmd === 'CMD' || cmd === 'ENTRYPOINT' || cmd === 'ONBUILD') {
    args = [rest];
  } else {
    args = splitWords(rest, escape);
  }
  return { cmd, flags, flagList, args: args!, json, raw: rest, original: text.trim(), line, heredocs };
}

/** Splits on unquoted whitespace; quotes and escapes are kept (substitution removes them). */
export function splitWords(s: string, escape = '\\'): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === escape && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
      inWord = true;
      continue;
    }
    if (quote) {
      if (c === quote) quote = '';
      cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      cur += c;
      inWord = true;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * Expands $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} (and the forms without the colon), removes
 * quotes and escapes (single quotes stop expansion), as docker's shell lexer does for ENV, COPY,
 * WORKDIR... (not for RUN, whose shell expands).
 */
export function substitute(word: string, vars: Record<string, string | undefined>, escape = '\\'): string {
  let out = '';
  let i = 0;
  let dq = false;
  const readVar = (): string => {
    // at '$'
    i++;
    if (word[i] === '{') {
      const end = findClose(word, i);
      if (end < 0) throw new Error(`missing '}' in "${word}"`);
      const body = word.slice(i + 1, end);
      i = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+])([\s\S]*))?$/.exec(body);
      if (!m) throw new Error(`bad substitution "\${${body}}"`);
      const v = vars[m[1]!];
      if (!m[3]) return v ?? '';
      const unsetOrEmpty = m[2] === ':' ? !v : v === undefined;
      const alt = substitute(m[4]!, vars, escape);
      if (m[3] === '-') return unsetOrEmpty ? alt : v!;
      return unsetOrEmpty ? '' : alt;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i));
    if (!m) return '$';
    i += m[0].length;
    return vars[m[0]] ?? '';
  };
  while (i < word.length) {
    const c = word[i]!;
    if (c === escape && i + 1 < word.length) {
      const n = word[i + 1]!;
      // inside double quotes only \\ \" \$ are escapes
      if (dq && !['"', '$', escape].includes(n)) out += c;
      out += n;
      i += 2;
      continue;
    }
    if (c === "'" && !dq) {
      const end = word.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in "${word}"`);
      out += word.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      dq = !dq;
      i++;
      continue;
    }
    if (c === '$') {
      out += readVar();
      continue;
    }
    out += c;
    i++;
  }
  if (dq) throw new Error(`unterminated quote in "${word}"`);
  return out;
}

function findClose(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Parses a Containerfile. */
export function parseContainerfile(text: string, file = 'Containerfile'): ParsedFile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let escape = '\\';
  // Parser directives: only at the very top, as `# key=value` comments.
  let i = 0;
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const d = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i]!);
    if (!d) break;
    const key = d[1]!.toLowerCase();
    if (key !== 'escape' && key !== 'syntax' && key !== 'check') break;
    if (seen.has(key)) throw buildError(file, i + 1, 'directive', `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (d[2] !== '\\' && d[2] !== '`') throw buildError(file, i + 1, 'escape', `invalid escape token '${d[2]}' does not match ` + '` or \\');
      escape = d[2]!;
    }
  }
  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const startLine = i + 1;
    let line = lines[i]!;
    i++;
    if (/^\s*(#.*)?$/.test(line)) continue;
    let text = '';
    // Continuation: a line ending in the escape character joins the next; comment lines inside are dropped.
    for (;;) {
      const t = line.replace(/\s+$/, '');
      if (t.endsWith(escape) && !t.endsWith(escape + escape)) {
        text += t.slice(0, -1);
        let next: string | undefined;
        while (i < lines.length) {
          next = lines[i]!;
          i++;
          if (/^\s*#/.test(next)) {
            next = undefined;
            continue;
          }
          break;
        }
        if (next === undefined) break;
        line = next;
        continue;
      }
      text += line;
      break;
    }
    // Heredocs: <<EOF / <<-EOF / <<"EOF" on RUN, COPY, ADD.
    const heredocs: Array<{ name: string; body: string }> = [];
    if (/^\s*(RUN|COPY|ADD)\b/i.test(text)) {
      const re = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;
      let hm: RegExpExecArray | null;
      while ((hm = re.exec(text))) {
        const name = hm[3]!;
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          const l = lines[i]!;
          i++;
          if ((hm[1] ? l.replace(/^\t+/, '') : l) === name) {
            closed = true;
            break;
          }
          body.push(hm[1] ? l.replace(/^\t+/, '') : l);
        }
        if (!closed) throw buildError(file, startLine, text.trim().split(/\s/)[0]!.toUpperCase(), `unterminated heredoc ${name}`);
        heredocs.push({ name, body: body.join('\n') + '\n' });
      }
    }
    instructions.push(parseInstruction(file, text, startLine, escape, heredocs));
  }
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.cmd === 'FROM') {
      const a = ins.args;
      if (a.length !== 1 && !(a.length === 3 && a[1]!.toUpperCase() === 'AS')) throw buildError(file, ins.line, 'FROM', 'requires either one or three arguments ("FROM image [AS name]")');
      const name = a.length === 3 ? a[2]!.toLowerCase() : undefined;
      if (name && !/^[a-z][a-z0-9-_.]*$/.test(name)) throw buildError(file, ins.line, 'FROM', `invalid name for build stage: "${a[2]}"`);
      stages.push({ base: a[0]!, name, index: stages.length, from: ins, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (ins.cmd !== 'ARG') throw buildError(file, ins.line, ins.cmd, 'no build stage in current context (the first instruction must be FROM)');
      globalArgs.push(ins);
      continue;
    }
    validate(file, ins);
    stages[stages.length - 1]!.instructions.push(ins);
  }
  if (stages.length === 0) throw buildError(file, lines.length, 'FROM', 'no FROM instruction found');
  return { file, globalArgs, stages, escape };
}

function validate(file: string, ins: Instruction): void {
  const need = (n: number, what: string): void => {
    if (ins.args.length < n || (n > 0 && ins.args.every((a) => a === ''))) throw buildError(file, ins.line, ins.cmd, `requires ${what}`);
  };
  switch (ins.cmd) {
    case 'COPY':
    case 'ADD':
      if (ins.heredocs.length) need(1, 'at least one argument');
      else need(2, 'at least two arguments, but only one was provided. Destination could not be determined');
      break;
    case 'RUN':
      if (!ins.json) need(1, 'at least one argument');
      break;
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
      if (ins.args.length !== 1) throw buildError(file, ins.line, ins.cmd, 'requires exactly one argument');
      break;
    case 'ENV':
    case 'LABEL':
    case 'ARG':
    case 'EXPOSE':
    case 'VOLUME':
      need(1, 'at least one argument');
      break;
    case 'ONBUILD': {
      const inner = /^\s*(\S+)/.exec(ins.raw)?.[1]?.toUpperCase();
      if (!inner) throw buildError(file, ins.line, 'ONBUILD', 'requires at least one argument');
      if (inner === 'ONBUILD' || inner === 'FROM' || inner === 'MAINTAINER') throw buildError(file, ins.line, 'ONBUILD', `${inner} isn't allowed as an ONBUILD trigger`);
      break;
    }
  }
}

/**
 * ENV/LABEL pairs: `k=v k2="v 2"` or the legacy `k v with spaces` (one pair). Values are substituted.
 */
export function keyValues(file: string, ins: Instruction, vars: Record<string, string | undefined>, escape = '\\'): Array<[string, string]> {
  const sub = (s: string): string => {
    try {
      return substitute(s, vars, escape);
    } catch (e) {
      throw buildError(file, ins.line, ins.cmd, (e as Error).message);
    }
  };
  const words = ins.args;
  if (words.length && !words[0]!.includes('=')) {
    if (ins.cmd === 'ARG') return words.map((w) => [sub(w), ''] as [string, string]);
    if (words.length < 2) throw buildError(file, ins.line, ins.cmd, `${ins.cmd} names can not be blank`);
    const rest = ins.raw.slice(ins.raw.indexOf(words[0]!) + words[0]!.length).trim();
    return [[words[0]!, sub(rest)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw buildError(file, ins.line, ins.cmd, `syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [sub(w.slice(0, eq)), sub(w.slice(eq + 1))] as [string, string];
  });
}
