import { describe, expect, test } from 'vitest';
import { formatFloat, formatValue, goJSON, goQuote, sprint, sprintf } from '../../src/format/gofmt.js';

describe('formatFloat (strconv.FormatFloat)', () => {
  test.each<[number, 'e' | 'E' | 'f' | 'g' | 'G', number, string]>([
    [1.125, 'g', 3, '1.12'], // exact value is a tie: half to even
    [1.135, 'g', 3, '1.14'], // 1.135 is really 1.13500000000000000888...
    [2.5, 'f', 0, '2'],
    [3.5, 'f', 0, '4'],
    [0.25, 'f', 1, '0.2'],
    [999.999, 'g', 3, '1e+03'],
    [1024, 'g', 4, '1024'],
    [7.634567, 'g', 3, '7.63'],
    [7, 'g', 3, '7'],
    [100, 'g', -1, '100'],
    [1e6, 'g', -1, '1e+06'],
    [123456.5, 'g', -1, '123456.5'],
    [0.000012, 'g', -1, '1.2e-05'],
    [0.0001, 'g', -1, '0.0001'],
    [1234.5678, 'e', 6, '1.234568e+03'],
    [0.000123, 'E', 6, '1.230000E-04'],
    [0, 'e', 2, '0.00e+00'],
    [0, 'g', -1, '0'],
    [-1.5, 'f', 2, '-1.50'],
    [1e100, 'g', -1, '1e+100'],
    [5e-324, 'g', -1, '5e-324'],
    [123.456, 'f', -1, '123.456'],
    [NaN, 'g', -1, 'NaN'],
    [Infinity, 'f', 2, '+Inf'],
    [-Infinity, 'g', -1, '-Inf'],
  ])('%d %s %d → %s', (x, f, p, want) => {
    expect(formatFloat(x, f, p)).toBe(want);
  });
});

describe('sprintf', () => {
  test.each<[string, unknown[], string]>([
    ['%s|%v|%d', ['a', 1, 2], 'a|1|2'],
    ['%5.2f|%-6.1f|%+.1e', [Math.PI, 2.25, 12345], ' 3.14|2.2   |+1.2e+04'],
    ['%05d|%-5d|%5d|%x|%X|%o|%b', [-42, 42, 42, 3054, 3054, 8, 5], '-0042|42   |   42|bee|BEE|10|101'],
    ['%3c|%-4q|%U|%#U', [120, 121, 0x1f600, 65], "  x|'y' |U+1F600|U+0041 'A'"],
    ['%q', ['tab\there "q" \u00e9 \u0007'], '"tab\\there \\"q\\" é \\a"'],
    ['%x|% x|%#x|%X', ['hi', 'hi', 'hi', 'hé'], '6869|68 69|0x6869|68C3A9'],
    ['%v|%s|%d', [[1, 2], ['a', 'b'], [3]], '[1 2]|[a b]|[3]'],
    ['%v', [{ b: [1], a: { c: null } }], 'map[a:map[c:<nil>] b:[1]]'],
    ['%v|%t|%s', [true, false, true], 'true|false|%!s(bool=true)'],
    ['%d', [1.5], '%!d(float64=1.5)'],
    ['%f', ['x'], '%!f(string=x)'],
    ['%*d|%-*d|%.*f', [4, 7, 3, 8, 2, 1.005], '   7|8  |1.00'],
    ['%[2]s %[1]s', ['a', 'b'], 'b a'],
    ['%d %d', [1], '1 %!d(MISSING)'],
    ['%d', [1, 'x', null], '1%!(EXTRA string=x, <nil>)'],
    ['100%%', [], '100%'],
    ['%v', [new Date(Date.UTC(2024, 0, 2, 3, 4, 5))], '2024-01-02 03:04:05 +0000 UTC'],
    ['%s', [new Error('boom')], 'boom'],
    ['%10.3s|', ['abcdef'], '       abc|'],
    ['%-10v|', ['é'], 'é         |'],
    ['%T %T %T %T', [[1], {}, null, 'x'], '[]interface {} map[string]interface {} <nil> string'],
  ])('%s', (format, args, want) => {
    // Dates print in the local zone: pin it for the one row that has one
    const saved = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      expect(sprintf(format, args)).toBe(want);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('value printing', () => {
  test.each<[unknown, string]>([
    [null, '<nil>'],
    ['s', 's'],
    [3, '3'],
    [-0.5, '-0.5'],
    [2 ** 53, '9007199254740992'],
    [10n, '10'],
    [[], '[]'],
    [['a', ['b', 'c']], '[a [b c]]'],
    [{}, 'map[]'],
    [{ z: 1, a: 'x' }, 'map[a:x z:1]'],
    [new Map([['k', [1]]]), 'map[k:[1]]'],
    [new Uint8Array([1, 2]), '[1 2]'],
    [{ toString: () => 'custom' }, 'custom'],
  ])('%# → %s', (v, want) => {
    expect(formatValue(v)).toBe(want);
  });

  test('sprint puts spaces between operands when neither is a string', () => {
    expect(sprint([1, 2, 'a', 'b', 3, true])).toBe('1 2ab3 true');
    expect(sprint([])).toBe('');
  });

  test('goQuote', () => {
    expect(goQuote('a"b\\c\n\x01\u00e9\u2028')).toBe('"a\\"b\\\\c\\n\\x01é\\u2028"');
    expect(goQuote('é😀', true)).toBe('"\\u00e9\\U0001f600"');
  });
});

describe('goJSON', () => {
  test('compact, in key order, Dates as RFC 3339, undefined as null', () => {
    const v = { b: 1, a: '<x&y>', d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600)), m: new Map([['z', 1], ['a', 2]]) };
    expect(goJSON(v)).toBe('{"b":1,"a":"<x&y>","d":"2024-01-02T03:04:05.6Z","m":{"a":2,"z":1}}');
    expect(goJSON(undefined)).toBe('null');
    expect(goJSON('\u2028')).toBe('"\\u2028"');
  });

  test('escapeHTML and indent like json.MarshalIndent', () => {
    expect(goJSON([{ a: '<none>', e: [] , o: {} }], { indent: '    ', escapeHTML: true })).toBe(
      '[\n    {\n        "a": "\\u003cnone\\u003e",\n        "e": [],\n        "o": {}\n    }\n]',
    );
    expect(goJSON([], { indent: '    ' })).toBe('[]');
  });
});
