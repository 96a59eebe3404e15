// Lexer for Go's text/template (text/template/parse/lex.go): text, delimiters with trim
// markers, comments, and the tokens inside actions. Errors come back as an 'error' item.

export type ItemType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'identifier'
  | 'field'
  | 'variable'
  | 'dot'
  | 'string'
  | 'rawString'
  | 'number'
  | 'char'
  | 'charConstant'
  | 'bool'
  | 'nil'
  | 'keyword'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'eof'
  | 'error';

export interface Item {
  typ: ItemType;
  pos: number;
  val: string;
  line: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);

export function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;
  let trimNext = false;

  const emit = (typ: ItemType, val = input.slice(start, pos)): void => {
    items.push({ typ, pos: start, val, line: startLine });
    start = pos;
    startLine = line;
  };
  const advance = (n: number): void => {
    for (let i = 0; i < n; i++) if (input[pos + i] === '\n') line++;
    pos += n;
  };
  const ignore = (): void => {
    start = pos;
    startLine = line;
  };
  const error = (msg: string): void => {
    items.push({ typ: 'error', pos: start, val: msg, line: startLine });
  };
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    if (input.startsWith('}}', pos)) return { delim: true, trim: false };
    if (isSpace(input[pos]) && input[pos + 1] === '-' && input.startsWith('}}', pos + 2)) return { delim: true, trim: true };
    return { delim: false, trim: false };
  };
  const atTerminator = (): boolean => {
    const c = input[pos];
    if (c === undefined || isSpace(c) || '.,|:()'.includes(c)) return true;
    return input.startsWith('}}', pos);
  };

  for (;;) {
    // ---- text
    if (trimNext) {
      while (isSpace(input[pos])) advance(1);
      ignore();
      trimNext = false;
    }
    const next = input.indexOf('{{', pos);
    const textEnd = next < 0 ? input.length : next;
    advance(textEnd - pos);
    if (next < 0) {
      if (pos > start) emit('text');
      items.push({ typ: 'eof', pos, val: '', line });
      return items;
    }
    const trimLeft = input[pos + 2] === '-' && isSpace(input[pos + 3]);
    let textVal = input.slice(start, pos);
    if (trimLeft) textVal = textVal.replace(/[ \t\r\n]+$/, '');
    if (textVal.length > 0) emit('text', textVal);
    ignore();
    // ---- left delimiter
    const afterMarker = pos + 2 + (trimLeft ? 2 : 0);
    if (input.startsWith('/*', afterMarker)) {
      advance(afterMarker - pos);
      const end = input.indexOf('*/', pos);
      if (end < 0) {
        error('unclosed comment');
        return items;
      }
      advance(end + 2 - pos);
      const r = atRightDelim();
      if (!r.delim) {
        error('comment ends before closing delimiter');
        return items;
      }
      advance(r.trim ? 4 : 2);
      trimNext = r.trim;
      ignore();
      continue;
    }
    advance(2);
    emit('leftDelim');
    if (trimLeft) {
      advance(1);
      ignore();
    }
    parenDepth = 0;
    // ---- inside action
    for (;;) {
      const r = atRightDelim();
      if (r.delim) {
        if (r.trim) {
          advance(2);
          ignore();
        }
        if (parenDepth > 0) {
          error('unclosed left paren');
          return items;
        }
        advance(2);
        emit('rightDelim');
        trimNext = r.trim;
        break;
      }
      const c = input[pos];
      if (c === undefined) {
        error('unclosed action');
        return items;
      }
      if (isSpace(c)) {
        while (isSpace(input[pos]) && !(input[pos + 1] === '-' && input.startsWith('}}', pos + 2))) advance(1);
        if (pos > start) emit('space');
        continue;
      }
      if (c === '=') {
        advance(1);
        emit('assign');
      } else if (c === ':') {
        if (input[pos + 1] !== '=') {
          error('expected :=');
          return items;
        }
        advance(2);
        emit('declare');
      } else if (c === '|') {
        advance(1);
        emit('pipe');
      } else if (c === '"') {
        advance(1);
        for (;;) {
          const q = input[pos];
          if (q === '\\' && input[pos + 1] !== undefined && input[pos + 1] !== '\n') advance(2);
          else if (q === undefined || q === '\n') {
            error('unterminated quoted string');
            return items;
          } else if (q === '"') {
            advance(1);
            break;
          } else advance(1);
        }
        emit('string');
      } else if (c === '`') {
        const end = input.indexOf('`', pos + 1);
        if (end < 0) {
          error('unterminated raw quoted string');
          return items;
        }
        advance(end + 1 - pos);
        emit('rawString');
      } else if (c === "'") {
        advance(1);
        for (;;) {
          const q = input[pos];
          if (q === '\\' && input[pos + 1] !== undefined && input[pos + 1] !== '\n') advance(2);
          else if (q === undefined || q === '\n') {
            error('unterminated character constant');
            return items;
          } else if (q === "'") {
            advance(1);
            break;
          } else advance(1);
        }
        emit('charConstant');
      } else if (c === '$' || (c === '.' && !/[0-9]/.test(input[pos + 1] ?? ''))) {
        advance(1);
        if (atTerminator()) {
          emit(c === '$' ? 'variable' : 'dot');
          continue;
        }
        while (isAlnum(input[pos])) advance(1);
        if (!atTerminator()) {
          error(`bad character ${goRune(input[pos]!)}`);
          return items;
        }
        emit(c === '$' ? 'variable' : 'field');
      } else if (c === '.' || c === '+' || c === '-' || /[0-9]/.test(c)) {
        const m = /^[+-]?(0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*([pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*\.?[0-9_]*([eE][+-]?[0-9_]+)?)i?/.exec(
          input.slice(pos),
        );
        const len = m ? m[0].length : 0;
        advance(Math.max(len, 1));
        if (len === 0 || isAlnum(input[pos]) || input[pos] === '.') {
          while (isAlnum(input[pos]) || input[pos] === '.') advance(1);
          error(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
          return items;
        }
        emit('number');
      } else if (isAlnum(c)) {
        while (isAlnum(input[pos])) advance(1);
        const word = input.slice(start, pos);
        if (!atTerminator()) {
          error(`bad character ${goRune(input[pos]!)}`);
          return items;
        }
        if (KEYWORDS.has(word)) emit('keyword');
        else if (word === 'true' || word === 'false') emit('bool');
        else if (word === 'nil') emit('nil');
        else emit('identifier');
      } else if (c === '(') {
        advance(1);
        parenDepth++;
        emit('leftParen');
      } else if (c === ')') {
        advance(1);
        parenDepth--;
        emit('rightParen');
        if (parenDepth < 0) {
          error(`unexpected right paren ${goRune(c)}`);
          return items;
        }
      } else if (c === ',') {
        advance(1);
        emit('char');
      } else {
        error(`unrecognized character in action: ${goRune(c)}`);
        return items;
      }
    }
  }
}

function goRune(c: string): string {
  const cp = c.codePointAt(0)!;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}
