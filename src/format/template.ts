// Go's text/template for `--format`: compile once, execute against plain JavaScript data.
// JS objects are looked up like Go maps (a missing key prints "<no value>"), with an exact key
// match first and then a case-insensitive one, so `.Id` finds `id` and `.ID` finds `Id`.
// A property holding a function is called like a Go method, with the action's arguments.
// Errors read like Go's: `template: NAME:LINE:COL: executing "NAME" at <.Foo>: ...`.

import { TspodError } from '../errors.js';
import { formatValue, goTypeName, sortedEntries } from './gofmt.js';
import { ArgError, BUILTINS, convertArg, truth, type FuncDef } from './template-funcs.js';
import { argString, commandString, pipeString, type Arg, type Command, type ControlNode, type Node, type Pipe, type Tree } from './template-ast.js';
import { parseTemplate } from './template-parse.js';

export type TemplateFunc = (...args: any[]) => unknown;

export interface CompileOptions {
  /** The template's name in error messages; Podman uses the command name ("ps", "images"). */
  name?: string;
  /** Extra functions, which replace builtins of the same name. */
  funcs?: Readonly<Record<string, TemplateFunc>>;
}

/**
 * An object that resolves its own fields in templates, like the header row of a table, whose
 * every field is the column title.
 */
export const FIELD_RESOLVER: unique symbol = Symbol('tspod.template.field');
export interface FieldResolver {
  [FIELD_RESOLVER](name: string): unknown;
}

const MISSING: unique symbol = Symbol('missing');
type Final = unknown; // a value or MISSING
const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');
const MAX_DEPTH = 10_000;

export class Template {
  private readonly funcs: Map<string, FuncDef>;
  private readonly tree: Tree;

  constructor(
    readonly text: string,
    readonly name: string,
    extra: Readonly<Record<string, TemplateFunc>> = {},
  ) {
    this.funcs = new Map(BUILTINS);
    for (const [k, fn] of Object.entries(extra)) this.funcs.set(k, { min: 0, variadic: true, fn: (args) => fn(...args) });
    this.tree = parseTemplate(name, text, { funcs: new Set(this.funcs.keys()) });
  }

  /** Runs the template with `data` as dot and `$`; throws TspodError('invalid-argument'). */
  execute(data: unknown): string {
    const s = new State(this.tree, this.funcs);
    s.vars.push({ name: '$', value: data });
    s.walk(data, this.tree.root);
    return s.out.join('');
  }
}

const cache = new Map<string, Template>();
const CACHE_MAX = 256;

/** Parses a template, reusing an earlier parse of the same text (without custom funcs). */
export function compileTemplate(text: string, opts: CompileOptions = {}): Template {
  const name = opts.name ?? 'template';
  if (opts.funcs) return new Template(text, name, opts.funcs);
  const key = name + '\0' + text;
  let t = cache.get(key);
  if (!t) {
    t = new Template(text, name);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(key, t);
  }
  return t;
}

/** strings.NewReplacer: at each position the first matching pair wins; no overlaps. */
function replaceEach(s: string, pairs: [string, string][]): string {
  let out = '';
  let i = 0;
  outer: while (i < s.length) {
    for (const [from, to] of pairs) {
      if (s.startsWith(from, i)) {
        out += to;
        i += from.length;
        continue outer;
      }
    }
    out += s[i++];
  }
  return out;
}

/**
 * Podman's report.NormalizeFormat: `\t` and `\n` typed on the command line become a tab and a
 * newline, a leading "table " is dropped (and every space turns into a tab), and the result
 * always ends with a newline.
 */
export function normalizeFormat(format: string): string {
  let f: string;
  if (format.startsWith('table ')) {
    f = replaceEach(format, [
      ['table ', ''],
      ['\\t', '\t'],
      [' ', '\t'],
      ['\\n', '\n'],
    ]);
  } else {
    f = replaceEach(format, [
      ['\\t', '\t'],
      ['\\n', '\n'],
    ]);
  }
  return f.endsWith('\n') ? f : f + '\n';
}

// ---------------------------------------------------------------- execution

interface Located {
  pos: number;
  str: () => string;
}

class State {
  readonly out: string[] = [];
  vars: { name: string; value: unknown }[] = [];
  private at: Located | undefined;
  private depth = 0;

  constructor(
    private readonly tree: Tree,
    private readonly funcs: Map<string, FuncDef>,
  ) {}

  private setAt(pos: number, str: () => string): void {
    this.at = { pos, str };
  }

  private errorf(msg: string): never {
    const name = this.tree.name;
    if (!this.at) throw new TspodError('invalid-argument', `template: ${name}: ${msg}`);
    const before = this.tree.text.slice(0, this.at.pos);
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = Buffer.byteLength(before.slice(before.lastIndexOf('\n') + 1));
    const ctx = this.at.str();
    throw new TspodError('invalid-argument', `template: ${name}:${line}:${col}: executing "${name}" at <${ctx}>: ${msg}`);
  }

  walk(dot: unknown, nodes: Node[]): void {
    for (const node of nodes) {
      switch (node.type) {
        case 'text':
          this.out.push(node.text);
          break;
        case 'action': {
          const val = this.evalPipeline(dot, node.pipe);
          if (node.pipe.decl.length === 0) this.printValue(node.pipe, val);
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const val = this.evalPipeline(dot, node.pipe);
          if (truth(val)) this.walk(node.type === 'with' ? val : dot, node.list);
          else if (node.elseList) this.walk(dot, node.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.walkRange(dot, node);
          break;
        case 'template':
          this.walkTemplate(dot, node);
          break;
        case 'break':
          throw BREAK;
        case 'continue':
          throw CONTINUE;
      }
    }
  }

  private printValue(pipe: Pipe, val: unknown): void {
    this.setAt(pipe.pos, () => pipeString(pipe));
    if (typeof val === 'function') this.errorf(`can't print ${pipeString(pipe)} of type func`);
    this.out.push(val === undefined ? '<no value>' : formatValue(val));
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, node.pipe, false);
    const decl = node.pipe.decl;
    let iterated = false;
    const one = (index: unknown, elem: unknown): boolean => {
      iterated = true;
      if (decl.length === 1) this.vars.push({ name: decl[0]!, value: elem });
      if (decl.length === 2) this.vars.push({ name: decl[0]!, value: index }, { name: decl[1]!, value: elem });
      try {
        this.walk(elem, node.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        this.vars.length = mark;
      }
      return true;
    };
    if (Array.isArray(val) || ArrayBuffer.isView(val)) {
      const arr = val as ArrayLike<unknown>;
      for (let i = 0; i < arr.length; i++) if (!one(i, arr[i])) break;
    } else if (typeof val === 'number' && Number.isInteger(val)) {
      for (let i = 0; i < val; i++) if (!one(i, i)) break;
    } else if (val !== null && typeof val === 'object' && !(val instanceof Date)) {
      for (const [k, v] of sortedEntries(val)) if (!one(k, v)) break;
    } else if (val !== undefined && val !== null) {
      this.setAt(node.pipe.pos, () => pipeString(node.pipe));
      this.errorf(`range can't iterate over ${formatValue(val)}`);
    }
    if (!iterated && node.elseList) this.walk(dot, node.elseList);
    this.vars.length = mark;
  }

  private walkTemplate(dot: unknown, node: Extract<Node, { type: 'template' }>): void {
    this.setAt(node.pos, () => `{{template ${JSON.stringify(node.name)}}}`);
    const body = this.tree.defs.get(node.name);
    if (!body) this.errorf(`template ${JSON.stringify(node.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
    const saved = this.vars;
    this.vars = [{ name: '$', value: newDot }];
    this.depth++;
    try {
      this.walk(newDot, body);
    } finally {
      this.depth--;
      this.vars = saved;
    }
  }

  private evalPipeline(dot: unknown, pipe: Pipe, declare = true): unknown {
    this.setAt(pipe.pos, () => pipeString(pipe));
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    if (declare) {
      for (const name of pipe.decl) {
        if (!pipe.isAssign) {
          this.vars.push({ name, value });
          continue;
        }
        const v = this.findVar(name);
        if (!v) this.errorf(`undefined variable: ${name}`);
        v.value = value;
      }
    }
    return value;
  }

  private findVar(name: string): { name: string; value: unknown } | undefined {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i];
    return undefined;
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalCommand(dot: unknown, cmd: Command, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.setAt(first.pos, () => argString(first));
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
      case 'number':
      case 'string':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
    }
  }

  private evalArg(dot: unknown, n: Arg): unknown {
    this.setAt(n.pos, () => argString(n));
    switch (n.type) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, dot, n, n.ident, [n], MISSING);
      case 'variable':
        return this.evalVariable(dot, n, [n], MISSING);
      case 'pipe':
        return this.evalPipeline(dot, n);
      case 'identifier':
        return this.evalFunction(dot, n, { pos: n.pos, args: [n] }, [n], MISSING);
      case 'chain':
        return this.evalChain(dot, n, [n], MISSING);
      case 'bool':
      case 'number':
      case 'string':
        return n.value;
    }
  }

  private evalVariable(dot: unknown, v: Extract<Arg, { type: 'variable' }>, args: Arg[], final: Final): unknown {
    this.setAt(v.pos, () => argString(v));
    const found = this.findVar(v.ident[0]!);
    if (!found) this.errorf(`undefined variable: ${v.ident[0]}`);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return found.value;
    }
    return this.evalFieldChain(dot, found.value, v, v.ident.slice(1), args, final);
  }

  private evalChain(dot: unknown, chain: Extract<Arg, { type: 'chain' }>, args: Arg[], final: Final): unknown {
    const receiver = this.evalArg(dot, chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.field, args, final);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: Arg, ident: string[], args: Arg[], final: Final): unknown {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(dot, ident[i]!, node, [], MISSING, receiver);
    return this.evalField(dot, ident[n - 1]!, node, args, final, receiver);
  }

  private evalField(dot: unknown, name: string, node: Arg, args: Arg[], final: Final, receiver: unknown): unknown {
    this.setAt(node.pos, () => argString(node));
    if (receiver === undefined) return undefined; // like Go's invalid value: prints <no value>
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (typeof receiver === 'object' && !Array.isArray(receiver) && !ArrayBuffer.isView(receiver) && !(receiver instanceof Date)) {
      let value: unknown;
      let found = true;
      if (FIELD_RESOLVER in receiver) {
        value = (receiver as FieldResolver)[FIELD_RESOLVER](name);
      } else if (receiver instanceof Map) {
        const key = receiver.has(name) ? name : [...receiver.keys()].find((k) => typeof k === 'string' && k.toLowerCase() === name.toLowerCase());
        found = key !== undefined;
        value = found ? receiver.get(key) : undefined;
      } else {
        const key = findKey(receiver, name);
        found = key !== undefined;
        value = found ? (receiver as Record<string, unknown>)[key!] : undefined;
        // A function on the prototype is a method and is called; one in an own property is a
        // field holding a func value (as in Go, where only methods are called).
        if (found && typeof value === 'function' && !Object.prototype.hasOwnProperty.call(receiver, key!)) {
          return this.evalCall(dot, (value as TemplateFunc).bind(receiver), node, name, args, final);
        }
      }
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      return value;
    }
    this.errorf(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: unknown, node: Extract<Arg, { type: 'identifier' }>, cmd: Command, args: Arg[], final: Final): unknown {
    this.setAt(node.pos, () => node.name);
    const name = node.name;
    const def = this.funcs.get(name);
    if (!def) this.errorf(`${JSON.stringify(name)} is not a defined function`);
    const argNodes = args.slice(1);
    const given = argNodes.length + (final === MISSING ? 0 : 1);
    if (def.variadic ? given < def.min : given !== def.min) {
      this.errorf(`wrong number of args for ${name}: want ${def.variadic ? 'at least ' : ''}${def.min} got ${given}`);
    }
    if ((name === 'and' || name === 'or') && BUILTINS.get(name) === def) {
      // short-circuit: the result is the first argument that decides
      let v: unknown;
      for (let i = 0; i < given; i++) {
        v = i < argNodes.length ? this.evalArg(dot, argNodes[i]!) : final;
        if (truth(v) === (name === 'or')) return v;
      }
      return v;
    }
    if (name === 'call' && BUILTINS.get(name) === def) {
      const argv = this.evalArgs(dot, argNodes, final);
      const fn = argv[0];
      this.setAt(cmd.pos, () => commandString(cmd));
      if (typeof fn !== 'function') this.errorf(`error calling call: non-function of type ${goTypeName(fn)}`);
      return this.invoke(cmdAt(cmd), 'call', () => (fn as TemplateFunc)(...argv.slice(1)));
    }
    const argv = this.evalArgs(dot, argNodes, final);
    def.params?.forEach((type, i) => {
      if (i >= argv.length) return;
      try {
        argv[i] = convertArg(type, argv[i]);
      } catch (e) {
        const n = argNodes[i];
        if (n) this.setAt(n.pos, () => argString(n));
        else this.setAt(cmd.pos, () => commandString(cmd));
        this.errorf((e as Error).message);
      }
    });
    return this.invoke(cmdAt(cmd), name, () => def.fn(argv));
  }

  private evalArgs(dot: unknown, argNodes: Arg[], final: Final): unknown[] {
    const argv = argNodes.map((a) => this.evalArg(dot, a));
    if (final !== MISSING) argv.push(final);
    return argv;
  }

  private invoke(at: Located, name: string, fn: () => unknown): unknown {
    try {
      return fn();
    } catch (e) {
      if (e instanceof TspodError) throw e;
      this.at = at;
      const msg = e instanceof Error ? e.message : String(e);
      if (e instanceof ArgError) this.errorf(msg);
      this.errorf(`error calling ${name}: ${msg}`);
    }
  }

  private evalCall(dot: unknown, fn: TemplateFunc, node: Arg, name: string, args: Arg[], final: Final): unknown {
    const argv = this.evalArgs(dot, args.slice(1), final);
    return this.invoke({ pos: node.pos, str: () => argString(node) }, name, () => fn(...argv));
  }
}

function cmdAt(cmd: Command): Located {
  return { pos: cmd.pos, str: () => commandString(cmd) };
}

/** Exact key first, then a case-insensitive match; prototype methods and getters count. */
function findKey(obj: object, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return name;
  if (name in obj && !(name in Object.prototype)) return name;
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return k;
  for (let p = Object.getPrototypeOf(obj) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== 'constructor' && k.toLowerCase() === lower) return k;
  }
  return undefined;
}
