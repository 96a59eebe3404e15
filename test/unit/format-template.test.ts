import { describe, expect, test } from 'vitest';
import { isTspodError } from '../../src/errors.js';
import { compileTemplate, FIELD_RESOLVER, normalizeFormat } from '../../src/format/template.js';

function run(text: string, data: unknown = {}, name = 'version'): string {
  try {
    return compileTemplate(text, { name }).execute(data);
  } catch (e) {
    if (!isTspodError(e, 'invalid-argument')) throw e;
    return e.message;
  }
}

// Expected outputs recorded from `podman version --format TEMPLATE` (podman 4.3.1, Go's
// text/template), for templates that use literals only. Error rows are the message after
// "Error: ".
const PODMAN_ORACLE: [string, string][] = [
  ["{{printf \"%d %s\" 5}}", "5 %!s(MISSING)"],
  ["{{printf \"%d\" \"x\"}}", "%!d(string=x)"],
  ["{{printf \"%s\" 5}}", "%!s(int=5)"],
  ["{{printf \"%d\" 1 2}}", "1%!(EXTRA int=2)"],
  ["{{printf \"%v %v %v %v\" 0.000012 123456.5 1234567.5 100.0}}", "1.2e-05 123456.5 1.2345675e+06 100"],
  ["{{printf \"%.3g|%.3g|%.4g|%g|%e|%E|%.0f|%.1f\" 999.999 1.125 1024.0 0.1 1234.5678 0.000123 2.5 0.25}}", "1e+03|1.12|1024|0.1|1.234568e+03|1.230000E-04|2|0.2"],
  ["{{printf \"%08.3f|%-8d|%+d|% d|%x|%X|%#x|%o|%#o|%b|%c|%U|%q\" 3.14159 42 42 42 -255 255 255 8 8 5 65 65 65}}", "0003.142|42      |+42| 42|-ff|FF|0xff|10|010|101|A|U+0041|'A'"],
  ["{{printf \"%5s|%-5s|%.2s|%5.1s|%q|%#q|%+q\" \"ab\" \"ab\" \"héllo\" \"xyz\" \"a\\tb\\x01\" \"abc\" \"é\"}}", "   ab|ab   |hé|    x|\"a\\tb\\x01\"|`abc`|\"\\u00e9\""],
  ["{{printf \"%t %v %v\" true false nil}}", "true false <nil>"],
  ["{{printf \"%T %T %T %T\" 1 1.5 \"s\" true}}", "int float64 string bool"],
  ["{{printf \"%!\"}}|{{printf \"%\"}}|{{printf \"%z\" 1}}", "%!!(MISSING)|%!(NOVERB)|%!z(int=1)"],
  ["{{print 1 2 \"a\" \"b\" 3 true}}|{{println 1 \"a\"}}", "1 2ab3 true|1 a\n"],
  ["{{len \"héllo\"}} {{index \"abc\" 1}} {{slice \"abcdef\" 1 3}} {{slice \"abc\" 1}}", "6 98 bc bc"],
  ["{{eq 1 1}} {{eq 1 2 3 1}} {{ne \"a\" \"b\"}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}", "true true true true true true false"],
  ["{{eq 1 \"a\"}}", "template: version:1:2: executing \"version\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison"],
  ["{{lt true false}}", "template: version:1:2: executing \"version\" at <lt true false>: error calling lt: invalid type for comparison"],
  ["{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}} {{not 0}} {{not \"a\"}}", "0 2 x  true false"],
  ["{{html \"<a href=\\\"x\\\">'&'</a>\"}} {{js \"it's <b>\\\"x\\\"</b> = \\\\ \\n\"}} {{urlquery \"a b&c=d/é\"}}", "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt; it\\'s \\u003Cb\\u003E\\\"x\\\"\\u003C/b\\u003E \\u003D \\\\ \\u000A a+b%26c%3Dd%2F%C3%A9"],
  ["{{html 1 2 \"x\"}}", "1 2x"],
  ["{{range split \"a,b,c\" \",\"}}[{{.}}]{{end}} {{join (split \"a-b-c\" \"-\") \"+\"}} {{split \"abc\" \"\"}}", "[a][b][c] a+b+c [a b c]"],
  ["{{upper \"abc\"}} {{lower \"ABC\"}} {{title \"hello wORLD foo_bar a-b x.y\"}} {{truncate \"abcdef\" 3}} {{truncate \"ab\" 3}} [{{pad \"x\" 2 3}}] [{{pad \"\" 2 3}}]", "ABC abc Hello WORLD Foo_bar A-B X.Y abc ab [  x   ] []"],
  ["{{json \"<a&b>\"}} {{json (split \"a,b\" \",\")}} {{json 1.5}} {{json nil}}", "\"<a&b>\" [\"a\",\"b\"] 1.5 null"],
  ["{{- \"  a  \" -}}  {{- \"b\" }}  {{ \"c\" -}}  !", "  a  b  c!"],
  ["{{/* comment */}}x{{- /* c2 */ -}}  y", "xy"],
  ["{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}{{if true}}{{$x = 3}}{{end}}{{$x}}", "123"],
  ["{{range $i, $e := split \"a,b\" \",\"}}{{$i}}:{{$e}};{{end}}{{range $e := split \"a\" \",\"}}{{$e}}{{end}}", "0:a;1:b;a"],
  ["{{range split \"\" \"x\"}}[{{.}}]{{else}}empty{{end}}", "[]"],
  ["{{range split \"a,b,c,d\" \",\"}}{{if eq . \"b\"}}{{continue}}{{end}}{{if eq . \"d\"}}{{break}}{{end}}{{.}}{{end}}", "ac"],
  ["{{with \"\"}}x{{else}}y{{end}} {{with \"z\"}}{{.}}{{end}} {{with $v := \"q\"}}{{$v}}{{end}}", "y z q"],
  ["{{if 0}}a{{else if \"\"}}b{{else if \"x\"}}c{{else}}d{{end}}", "c"],
  ["{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" \"hi\"}}{{template \"T\"}}", "[hi][<no value>]"],
  ["{{block \"B\" \"bb\"}}<{{.}}>{{end}}", "<bb>"],
  ["{{\"a\\tb\\u00e9\\x41\"}} {{`raw\\n`}}", "a\tbéA raw\\n"],
  ["{{nil}}", "template: version:1:2: executing \"version\" at <nil>: nil is not a command"],
  ["{{printf \"%s\" (len \"abc\")}}", "%!s(int=3)"],
  ["{{3 | printf \"%d-%d\" 4}}", "4-3"],
  ["{{\"x\" | printf \"%s%s\" \"y\" | printf \"%s!\"}}", "yx!"],
  ["{{printf \"%v\" (split \"a b\" \" \")}} {{printf \"%q\" (split \"a b\" \" \")}} {{printf \"%5s\" (split \"a b\" \" \")}}", "[a b] [\"a\" \"b\"] [    a     b]"],
  ["{{print nil}} {{printf \"%d\" nil}} {{printf \"%s\" nil}}", "<nil> %!d(<nil>) %!s(<nil>)"],
  ["{{len 3}}", "template: version:1:2: executing \"version\" at <len 3>: error calling len: len of type int"],
  ["{{index (split \"a,b\" \",\") 5}}", "template: version:1:2: executing \"version\" at <index (split \"a,b\" \",\") 5>: error calling index: index out of range: 5"],
  ["{{index nil 1}}", "template: version:1:2: executing \"version\" at <index nil 1>: error calling index: index of untyped nil"],
  ["{{if}}", "template: version:1: missing value for if"],
  ["{{end}}", "template: version:1: unexpected {{end}}"],
  ["{{range .}}", "template: version:1: unexpected EOF"],
  ["{{else}}", "template: version:1: unexpected {{else}}"],
  ["{{foo}}", "template: version:1: function \"foo\" not defined"],
  ["{{$u}}", "template: version:1: undefined variable \"$u\""],
  ["{{.A.}}", "template: version:1: unexpected <.> in operand"],
  ["{{\"unterminated}}", "template: version:1: unterminated quoted string"],
  ["{{(1}}", "template: version:1: unclosed left paren"],
  ["{{1)}}", "template: version:1: unexpected \")\" in command"],
  ["{{printf \"%d\" 3 | 4}}", "template: version:1: non executable command in pipeline stage 2"],
  ["{{1 2}}", "template: version:1:2: executing \"version\" at <1>: can't give argument to non-function 1"],
  ["{{break}}", "template: version:1: {{break}} outside {{range}}"],
  ["{{template \"nope\"}}", "template: version:1:11: executing \"version\" at <{{template \"nope\"}}>: template \"nope\" not defined"],
  ["{{range split \"a\" \",\"}}{{else if true}}{{end}}", "template: version:1: unexpected <if> in input"],
];

describe('Go text/template semantics (recorded from podman)', () => {
  test.each(PODMAN_ORACLE)('%s', (text, want) => {
    expect(run(text)).toBe(want);
  });
});

describe('fields and data', () => {
  test.each<[string, unknown, string]>([
    ['{{.ID}} {{.Name}}', { ID: 'abc', Name: 'x' }, 'abc x'],
    ['{{.A.B.C}}', { A: { B: { C: 'deep' } } }, 'deep'],
    // exact key first, then case-insensitive
    ['{{.Id}}|{{.id}}|{{.ID}}', { Id: 'pascal', id: 'camel' }, 'pascal|camel|pascal'],
    ['{{.Names}}', { names: ['a', 'b'] }, '[a b]'],
    // missing keys print like Go's missing map entries; null like a nil interface
    ['{{.Missing}}|{{.Missing.Deeper}}|{{.Nil}}', { Nil: null }, '<no value>|<no value>|<nil>'],
    ['{{.}}', { b: 2, a: 'x', c: [1, { d: true }] }, 'map[a:x b:2 c:[1 map[d:true]]]'],
    ['{{.}}', [], '[]'],
    ['{{.}}', {}, 'map[]'],
    ['{{.N}} {{.F}} {{.Big}} {{.Neg}}', { N: 42, F: 0.5, Big: 1e21, Neg: -7 }, '42 0.5 1000000000000000000000 -7'],
    ['{{.T}} {{.F}}', { T: true, F: false }, 'true false'],
    ['{{.Created}}', { Created: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120)) }, '2024-01-02 03:04:05.12 +0000 UTC'],
    ['{{.M}}', { M: new Map([['z', 1], ['a', 2]]) }, 'map[a:2 z:1]'],
    ['{{.M.z}}', { M: new Map([['z', 1]]) }, '1'],
    ['{{$}}', 'root', 'root'],
    ['{{with .A}}{{$.B}}{{.}}{{end}}', { A: 'a', B: 'b' }, 'ba'],
    ['{{(index .L 1).Name}}', { L: [{ Name: 'x' }, { Name: 'y' }] }, 'y'],
    ['{{$v := .A}}{{$v.B}}', { A: { B: 'vb' } }, 'vb'],
    ['{{index .Labels "k"}}|{{index .Labels "nope"}}|{{.Labels.nope}}', { Labels: { k: 'v' } }, 'v||<no value>'],
    ['{{index .M "nope"}}', { M: { k: 1 } }, '<nil>'],
    ['{{index .L 1 0}}', { L: [[1], [2, 3]] }, '2'],
    ['{{len .L}} {{len .M}} {{len .S}}', { L: [1, 2], M: { a: 1 }, S: 'héllo' }, '2 1 6'],
    ['{{range .M}}{{.}},{{end}}', { M: { b: 2, a: 1, c: 3 } }, '1,2,3,'],
    ['{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}', { M: { b: 2, a: 1 } }, 'a=1;b=2;'],
    ['{{range .L}}{{.Name}} {{end}}', { L: [{ Name: 'a' }, { Name: 'b' }] }, 'a b '],
    ['{{range .Nope}}x{{else}}none{{end}}', {}, 'none'],
    ['{{range .L}}{{$.P}}{{.}}{{end}}', { L: [1, 2], P: '-' }, '-1-2'],
    ['{{if .L}}full{{else}}empty{{end}}', { L: [] }, 'empty'],
    ['{{if .M}}full{{else}}empty{{end}}', { M: {} }, 'empty'],
    ['{{if and .A (not .B)}}yes{{end}}', { A: 1, B: 0 }, 'yes'],
    ['{{if eq .State "running"}}up{{else}}down{{end}}', { State: 'running' }, 'up'],
    ['{{eq .Missing "x"}}', {}, 'false'],
    ['{{.Labels | json}}', { Labels: { a: 'b', x: '<y&z>' } }, '{"a":"b","x":"<y&z>"}'],
    ['{{json .}}', { s: 'x', n: null, d: new Date(Date.UTC(2024, 0, 2)) }, '{"s":"x","n":null,"d":"2024-01-02T00:00:00Z"}'],
    ['{{join .Names ", "}}', { Names: ['a', 'b'] }, 'a, b'],
    ['{{.ID | printf "%.3s"}}', { ID: 'abcdefgh' }, 'abc'],
    ['{{truncate .ID 5}}', { ID: 'abcdefgh' }, 'abcde'],
    ['{{.Name | printf "%-6s|"}}', { Name: 'ab' }, 'ab    |'],
  ])('%s', (text, data, want) => {
    expect(run(text, data, 't')).toBe(want);
  });

  test('a function-valued property is called like a Go method, with arguments', () => {
    class Row {
      constructor(private readonly labels: Record<string, string>) {}
      Label(k: string): string {
        return this.labels[k] ?? '';
      }
      get Count(): number {
        return Object.keys(this.labels).length;
      }
    }
    const row = new Row({ app: 'web' });
    expect(run('{{.Label "app"}}|{{.Count}}|{{.label "app"}}', row, 't')).toBe('web|1|web');
    expect(run('{{if .Label "x"}}y{{else}}n{{end}}', row, 't')).toBe('n');
  });

  test('a field resolver answers every field', () => {
    const header = { [FIELD_RESOLVER]: (name: string) => name.toUpperCase() };
    expect(run('{{.Id}}\t{{.Names}}', header, 't')).toBe('ID\tNAMES');
  });

  test('custom functions', () => {
    const t = compileTemplate('{{shout .A "!"}}', { funcs: { shout: (s: string, e: string) => s.toUpperCase() + e } });
    expect(t.execute({ A: 'hi' })).toBe('HI!');
  });

  test('variables are scoped to their control structure', () => {
    expect(run('{{if true}}{{$x := 1}}{{end}}{{$x}}', {}, 't')).toBe('template: t:1: undefined variable "$x"');
    expect(run('{{range $i, $e := .}}{{end}}{{$i}}', [1], 't')).toBe('template: t:1: undefined variable "$i"');
  });

  test('newlines inside actions and multi-line positions', () => {
    expect(run('a\n{{.A\n}}', { A: 1 }, 't')).toBe('a\n1');
    expect(run('a\n  {{.A.B}}', { A: 'x' }, 't')).toBe(
      'template: t:2:4: executing "t" at <.A.B>: can\'t evaluate field B in type string',
    );
  });
});

describe('errors', () => {
  test.each<[string, unknown, string]>([
    ['{{.A.B}}', { A: null }, 'template: t:1:2: executing "t" at <.A.B>: nil pointer evaluating interface {}.B'],
    ['{{.A.B}}', { A: [1] }, 'template: t:1:2: executing "t" at <.A.B>: can\'t evaluate field B in type []interface {}'],
    ['{{.A 1}}', { A: 'x' }, 'template: t:1:2: executing "t" at <.A>: A is not a method but has arguments'],
    ['{{range .A}}{{end}}', { A: 'str' }, 'template: t:1:8: executing "t" at <.A>: range can\'t iterate over str'],
    ['{{upper .A}}', {}, 'template: t:1:8: executing "t" at <.A>: invalid value; expected string'],
    ['{{join .A ","}}', { A: 'x' }, 'template: t:1:7: executing "t" at <.A>: wrong type for value; expected []string; got string'],
    ['{{truncate .A "x"}}', { A: 'x' }, 'template: t:1:14: executing "t" at <"x">: wrong type for value; expected int; got string'],
    ['{{.ID | truncate 5}}', { ID: 'abc' }, 'template: t:1:8: executing "t" at <truncate 5>: wrong type for value; expected int; got string'],
    ['{{join .A}}', { A: [] }, 'template: t:1:2: executing "t" at <join>: wrong number of args for join: want 2 got 1'],
    ['{{.F}}', { F: 1 }, '1'],
    ['{{.F 1}}', { F: 1 }, 'template: t:1:2: executing "t" at <.F>: F is not a method but has arguments'],
    ['{{$x := 1}}{{$x 2}}', {}, 'template: t:1:13: executing "t" at <$x>: can\'t give argument to non-function $x'],
    ['{{call .F 2}}', { F: 3 }, 'template: t:1:2: executing "t" at <call .F 2>: error calling call: non-function of type int'],
    ['{{call .F 2}}', { F: (x: number) => x * 2 }, '4'],
  ])('%s', (text, data, want) => {
    expect(run(text, data, 't')).toBe(want);
  });

  test('a throwing method is reported as a call error', () => {
    class Data {
      Boom(): string {
        throw new Error('kaboom');
      }
    }
    const data = new Data();
    expect(run('{{.Boom}}', data, 't')).toBe('template: t:1:2: executing "t" at <.Boom>: error calling Boom: kaboom');
  });

  test.each([
    ['{{/* unclosed', 'template: t:1: unclosed comment'],
    ['{{/* x */ .A}}', 'template: t:1: comment ends before closing delimiter'],
    ['{{:}}', 'template: t:1: expected :='],
    ['{{range $a, $b, $c := .}}{{end}}', 'template: t:1: too many declarations in range'],
    ['{{else}}', 'template: t:1: unexpected {{else}}'],
    ['{{if .A}}x{{else}}y{{else}}z{{end}}', 'template: t:1: expected end; found {{else}}'],
    ['line1\nline2 {{bad}}', 'template: t:2: function "bad" not defined'],
    ['{{3x}}', 'template: t:1: bad number syntax: "3x"'],
    ['{{"\\q"}}', 'template: t:1: invalid syntax'],
    ['{{#}}', "template: t:1: unrecognized character in action: U+0023 '#'"],
  ])('%s', (text, want) => {
    expect(run(text, {}, 't')).toBe(want);
  });

  test('errors are TspodError invalid-argument', () => {
    expect(() => compileTemplate('{{', { name: 'x' })).toThrow(/template: x:1: unclosed action/);
    try {
      compileTemplate('{{.A.B}}').execute({ A: 1 });
    } catch (e) {
      expect(isTspodError(e, 'invalid-argument')).toBe(true);
    }
  });
});

describe('compile cache and normalizeFormat', () => {
  test('the same text compiles once', () => {
    expect(compileTemplate('{{.A}}-cache')).toBe(compileTemplate('{{.A}}-cache'));
    expect(compileTemplate('{{.A}}-cache', { name: 'other' })).not.toBe(compileTemplate('{{.A}}-cache'));
  });

  test.each([
    ['{{.ID}}\\t{{.Name}}', '{{.ID}}\t{{.Name}}\n'],
    ['{{.ID}}\\n', '{{.ID}}\n'],
    ['{{.ID}}\n', '{{.ID}}\n'],
    ['{{.A}} {{.B}}', '{{.A}} {{.B}}\n'],
    // podman's table replacer turns every space into a tab, even inside actions
    ['table {{.A}} {{if .B}}x{{end}}\\t{{.C}}', '{{.A}}\t{{if\t.B}}x{{end}}\t{{.C}}\n'],
  ])('%j', (input, want) => {
    expect(normalizeFormat(input)).toBe(want);
  });
});
