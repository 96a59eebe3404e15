// Parser for Go's text/template language (text/template/parse), producing the tree that
// template.ts executes. Error texts follow Go's: `template: NAME:LINE: message`.

import { TspodError } from '../errors.js';
import { argString, type Arg, type Command, type Node, type Pipe, type Tree } from './template-ast.js';
import { lex, type Item, type ItemType } from './template-lex.js';

class ParseError extends Error {}

/** Go's strconv.Unquote for "..." and '...' literals. */
export function unquote(s: string): string {
  const q = s[0];
  if (q === '`') return s.slice(1, -1).replace(/\r/g, '');
  const body = s.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (e !== undefined && e in simple) out += simple[e];
    else if (e === q) out += q;
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new ParseError('invalid syntax');
      const cp = parseInt(hex, 16);
      if (e === 'x') out += Buffer.from([cp]).toString('latin1');
      else if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new ParseError('invalid syntax');
      else out += String.fromCodePoint(cp);
      i += n;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new ParseError('invalid syntax');
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else throw new ParseError('invalid syntax');
  }
  return out;
}

function parseNumber(text: string): number | undefined {
  if (text.startsWith("'")) {
    const s = unquote(text);
    if ([...s].length !== 1) return undefined;
    return s.codePointAt(0);
  }
  if (text.endsWith('i')) return undefined; // complex numbers are not supported
  const neg = text.startsWith('-');
  let t = text.replace(/^[+-]/, '');
  if (t.includes('_')) {
    if (!/^(0[xXbBoO])?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/.test(t) || t.startsWith('_')) return undefined;
    t = t.replace(/_/g, '');
  }
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^0[bB][01]+$/.test(t)) v = parseInt(t.slice(2), 2);
  else if (/^0[oO]?[0-7]+$/.test(t)) v = parseInt(t.replace(/^0[oO]?/, ''), 8);
  else if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) v = Number(t);
  else return undefined;
  return neg ? -v : v;
}

export interface ParseOptions {
  funcs: ReadonlySet<string>;
}

class Parser {
  private items: Item[];
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  readonly defs = new Map<string, Node[]>();

  constructor(
    private readonly name: string,
    private readonly text: string,
    private readonly opts: ParseOptions,
  ) {
    this.items = lex(text);
  }

  parse(): Tree {
    const root: Node[] = [];
    while (this.peekNonSpace().typ !== 'eof') {
      if (this.peek().typ === 'leftDelim' && this.peekAfterDelimIs('define')) {
        this.parseDefinition();
        continue;
      }
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') this.fail(`unexpected {{${n.kind}}}`);
      if (n.node) root.push(n.node);
    }
    return { name: this.name, text: this.text, root, defs: this.defs };
  }

  private fail(msg: string, item?: Item): never {
    const line = item?.line ?? this.items[Math.max(this.i - 1, 0)]?.line ?? 1;
    throw new TspodError('invalid-argument', `template: ${this.name}:${line}: ${msg}`);
  }

  private next(): Item {
    const it = this.items[this.i]!;
    if (it.typ === 'error') this.fail(it.val, it);
    if (this.i < this.items.length - 1) this.i++;
    return it;
  }
  private backup(n = 1): void {
    this.i -= n;
  }
  private peek(): Item {
    const it = this.items[this.i]!;
    if (it.typ === 'error') this.fail(it.val, it);
    return it;
  }
  private nextNonSpace(): Item {
    let it = this.next();
    while (it.typ === 'space') it = this.next();
    return it;
  }
  private peekNonSpace(): Item {
    const it = this.nextNonSpace();
    this.backup();
    return it;
  }
  private peekAfterDelimIs(word: string): boolean {
    let j = this.i + 1;
    while (this.items[j]?.typ === 'space') j++;
    const it = this.items[j];
    return it?.typ === 'keyword' && it.val === word;
  }
  private expect(typ: ItemType, context: string): Item {
    const it = this.nextNonSpace();
    if (it.typ !== typ) this.unexpected(it, context);
    return it;
  }
  private unexpected(it: Item, context: string): never {
    let desc: string;
    if (it.typ === 'eof') desc = 'EOF';
    else if (it.typ === 'keyword' || it.typ === 'dot') desc = `<${it.val}>`;
    else if (it.val.length > 10) desc = `${JSON.stringify(it.val.slice(0, 10))}...`;
    else desc = JSON.stringify(it.val);
    this.fail(`unexpected ${desc} in ${context}`, it);
  }

  private textOrAction(): { node?: Node; kind?: 'end' | 'else'; elsePos?: number } {
    const it = this.nextNonSpace();
    if (it.typ === 'text') return { node: { type: 'text', pos: it.pos, text: it.val } };
    if (it.typ === 'leftDelim') return this.action();
    this.unexpected(it, 'input');
  }

  private itemList(): { list: Node[]; kind: 'end' | 'else' } {
    const list: Node[] = [];
    while (this.peekNonSpace().typ !== 'eof') {
      const n = this.textOrAction();
      if (n.kind) return { list, kind: n.kind };
      if (n.node) list.push(n.node);
    }
    this.fail('unexpected EOF');
  }

  private action(): { node?: Node; kind?: 'end' | 'else' } {
    const it = this.nextNonSpace();
    if (it.typ === 'keyword') {
      switch (it.val) {
        case 'block':
          return { node: this.blockControl(it) };
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.fail(`{{${it.val}}} outside {{range}}`, it);
          this.expectRight(`{{${it.val}}}`);
          return { node: { type: it.val, pos: it.pos } };
        case 'else': {
          const p = this.peekNonSpace();
          if (p.typ === 'keyword' && (p.val === 'if' || p.val === 'with')) return { kind: 'else' };
          this.expectRight('else');
          return { kind: 'else' };
        }
        case 'end':
          this.expectRight('end');
          return { kind: 'end' };
        case 'if':
        case 'range':
        case 'with':
          return { node: this.control(it.val, it.pos) };
        case 'template':
          return { node: this.templateControl() };
        case 'define':
          this.fail('unexpected <define> in command', it);
      }
    }
    this.backup();
    return { node: { type: 'action', pos: it.pos, pipe: this.pipeline('command', 'rightDelim') } };
  }

  private expectRight(context: string): void {
    const it = this.nextNonSpace();
    if (it.typ !== 'rightDelim') this.unexpected(it, context);
  }

  private control(kind: 'if' | 'range' | 'with', pos: number): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'rightDelim');
    if (kind === 'range') this.rangeDepth++;
    const body = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | null = null;
    if (body.kind === 'else') {
      const p = this.peekNonSpace();
      if ((kind === 'if' || kind === 'with') && p.typ === 'keyword' && p.val === kind) {
        // {{else if x}} is sugar for {{else}}{{if x}}...{{end}}; the inner if takes the {{end}}.
        this.next();
        elseList = [this.control(kind, p.pos)];
      } else {
        const rest = this.itemList();
        if (rest.kind !== 'end') this.fail('expected end; found {{else}}');
        elseList = rest.list;
      }
    }
    this.vars.length = mark;
    return { type: kind, pos, pipe, list: body.list, elseList };
  }

  private templateControl(): Node {
    const nameTok = this.nextNonSpace();
    const name = this.templateName(nameTok, 'template clause');
    let pipe: Pipe | null = null;
    if (this.peekNonSpace().typ !== 'rightDelim') pipe = this.pipeline('template clause', 'rightDelim');
    else this.nextNonSpace();
    return { type: 'template', pos: nameTok.pos, name, pipe };
  }

  private templateName(tok: Item, context: string): string {
    if (tok.typ !== 'string' && tok.typ !== 'rawString') this.unexpected(tok, context);
    try {
      return unquote(tok.val);
    } catch {
      this.fail('invalid syntax', tok);
    }
  }

  private parseDefinition(): void {
    this.next(); // {{
    this.nextNonSpace(); // define
    const name = this.templateName(this.nextNonSpace(), 'define clause');
    this.expectRight('define clause');
    const outer = this.vars;
    this.vars = ['$'];
    const body = this.itemList();
    this.vars = outer;
    if (body.kind !== 'end') this.fail('unexpected {{else}} in define clause');
    this.defs.set(name, body.list);
  }

  private blockControl(kw: Item): Node {
    const name = this.templateName(this.nextNonSpace(), 'block clause');
    const pipe = this.pipeline('block clause', 'rightDelim');
    const body = this.itemList();
    if (body.kind !== 'end') this.fail('unexpected {{else}} in block clause');
    this.defs.set(name, body.list);
    return { type: 'template', pos: kw.pos, name, pipe };
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): Pipe {
    const first = this.peekNonSpace();
    const pipe: Pipe = { pos: first.pos, isAssign: false, decl: [], cmds: [] };
    // declarations: $x := ..., $x = ..., range $i, $e := ...
    for (;;) {
      const save = this.i;
      const v = this.peekNonSpace();
      if (v.typ !== 'variable') break;
      this.nextNonSpace();
      const after = this.peekNonSpace();
      if (after.typ === 'declare' || after.typ === 'assign') {
        this.nextNonSpace();
        pipe.isAssign = after.typ === 'assign';
        pipe.decl.push(v.val);
        if (pipe.isAssign) this.useVar(v);
        else this.vars.push(v.val);
        break;
      }
      if (after.typ === 'char' && after.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(v.val);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          if (this.peekNonSpace().typ === 'variable') continue;
          this.fail('range can only initialize variables');
        }
        this.fail(`too many declarations in ${context}`);
      }
      this.i = save; // the variable is an operand, not a declaration
      break;
    }
    for (;;) {
      const tok = this.nextNonSpace();
      if (tok.typ === end) {
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, tok);
        for (let k = 1; k < pipe.cmds.length; k++) {
          const a = pipe.cmds[k]!.args[0]!;
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(a.type)) {
            this.fail(`non executable command in pipeline stage ${k + 1}`, tok);
          }
        }
        return pipe;
      }
      switch (tok.typ) {
        case 'bool':
        case 'charConstant':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(tok, context);
      }
    }
  }

  private command(): Command {
    const cmd: Command = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const tok = this.next();
      if (tok.typ === 'space') continue;
      if (tok.typ === 'rightDelim' || tok.typ === 'rightParen') this.backup();
      else if (tok.typ !== 'pipe') this.unexpected(tok, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command');
    return cmd;
  }

  private operand(): Arg | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().typ !== 'field') return node;
    const fields: string[] = [];
    const pos = this.peek().pos;
    while (this.peek().typ === 'field') fields.push(this.next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos: node.pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return this.fail(`unexpected . after term ${JSON.stringify(argString(node))}`);
      default:
        return { type: 'chain', pos, node, field: fields };
    }
  }

  private term(): Arg | null {
    const tok = this.nextNonSpace();
    switch (tok.typ) {
      case 'identifier':
        if (!this.opts.funcs.has(tok.val)) this.fail(`function ${JSON.stringify(tok.val)} not defined`, tok);
        return { type: 'identifier', pos: tok.pos, name: tok.val };
      case 'dot':
        return { type: 'dot', pos: tok.pos };
      case 'nil':
        return { type: 'nil', pos: tok.pos };
      case 'variable':
        this.useVar(tok);
        return { type: 'variable', pos: tok.pos, ident: [tok.val] };
      case 'field':
        return { type: 'field', pos: tok.pos, ident: [tok.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: tok.pos, value: tok.val === 'true' };
      case 'charConstant':
      case 'number': {
        let value: number | undefined;
        try {
          value = parseNumber(tok.val);
        } catch {
          value = undefined;
        }
        if (value === undefined || Number.isNaN(value)) this.fail(`illegal number syntax: ${JSON.stringify(tok.val)}`, tok);
        return { type: 'number', pos: tok.pos, text: tok.val, value };
      }
      case 'leftParen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rightParen');
        return { type: 'pipe', ...pipe };
      }
      case 'string':
      case 'rawString': {
        let value: string;
        try {
          value = unquote(tok.val);
        } catch {
          this.fail('invalid syntax', tok);
        }
        return { type: 'string', pos: tok.pos, quoted: tok.val, value };
      }
    }
    this.backup();
    return null;
  }

  private useVar(tok: Item): void {
    const name = tok.val.split('.')[0]!;
    if (!this.vars.includes(name)) this.fail(`undefined variable ${JSON.stringify(name)}`, tok);
  }
}

export function parseTemplate(name: string, text: string, opts: ParseOptions): Tree {
  return new Parser(name, text, opts).parse();
}
