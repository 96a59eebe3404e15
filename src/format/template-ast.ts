// The tree of a parsed Go text/template (text/template/parse nodes, trimmed to what we run),
// and the node strings Go shows in error contexts (`at <.Foo.Bar>`).

export type Arg =
  | { type: 'field'; pos: number; ident: string[] } // .A.B
  | { type: 'variable'; pos: number; ident: string[] } // $x.A ($x is ident[0])
  | { type: 'chain'; pos: number; node: Arg; field: string[] } // (pipe).A
  | { type: 'identifier'; pos: number; name: string } // a function
  | { type: 'dot'; pos: number }
  | { type: 'nil'; pos: number }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'number'; pos: number; text: string; value: number }
  | { type: 'string'; pos: number; quoted: string; value: string }
  | ({ type: 'pipe' } & Pipe);

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  isAssign: boolean;
  decl: string[];
  cmds: Command[];
}

export type Node =
  | { type: 'text'; pos: number; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { type: 'template'; pos: number; name: string; pipe: Pipe | null }
  | { type: 'break' | 'continue'; pos: number };

export interface ControlNode {
  type: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | null;
}

export interface Tree {
  name: string;
  text: string;
  root: Node[];
  /** `{{define}}` and `{{block}}` templates, by name. */
  defs: Map<string, Node[]>;
}

export function argString(a: Arg): string {
  switch (a.type) {
    case 'field':
      return '.' + a.ident.join('.');
    case 'variable':
      return a.ident.join('.');
    case 'chain':
      return (a.node.type === 'pipe' ? '(' + argString(a.node) + ')' : argString(a.node)) + '.' + a.field.join('.');
    case 'identifier':
      return a.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.value);
    case 'number':
      return a.text;
    case 'string':
      return a.quoted;
    case 'pipe':
      return pipeString(a);
  }
}

export function commandString(c: Command): string {
  return c.args.map((a) => (a.type === 'pipe' ? '(' + argString(a) + ')' : argString(a))).join(' ');
}

export function pipeString(p: Pipe): string {
  let s = '';
  if (p.decl.length > 0) s = p.decl.join(', ') + (p.isAssign ? ' = ' : ' := ');
  return s + p.cmds.map(commandString).join(' | ');
}
