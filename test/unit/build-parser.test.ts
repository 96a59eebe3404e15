import { describe, expect, it } from 'vitest';
import { keyValues, parseContainerfile, splitWords, substitute } from '../../src/build/parser.js';
import { ignored, loadIgnore } from '../../src/build/context.js';

describe('parseContainerfile', () => {
  it('stages, names, global ARGs, comments and continuations', () => {
    const p = parseContainerfile(
      ['# syntax=docker/dockerfile:1', 'ARG BASE=alpine', 'FROM $BASE AS build', '# a comment', 'RUN echo a \\', '  # inside', '    && echo b', 'FROM build', 'CMD ["sh"]', ''].join('\n'),
    );
    expect(p.globalArgs.map((a) => a.original)).toEqual(['ARG BASE=alpine']);
    expect(p.stages.map((s) => [s.base, s.name])).toEqual([
      ['$BASE', 'build'],
      ['build', undefined],
    ]);
    const run = p.stages[0]!.instructions[0]!;
    expect(run.cmd).toBe('RUN');
    expect(run.line).toBe(5);
    expect(run.raw).toBe('echo a     && echo b');
    const cmd = p.stages[1]!.instructions[0]!;
    expect(cmd).toMatchObject({ cmd: 'CMD', json: true, args: ['sh'], line: 9 });
  });

  it('the escape directive', () => {
    const p = parseContainerfile('# escape=`\nFROM x\nRUN dir `\n  c:\\\n');
    expect(p.escape).toBe('`');
    expect(p.stages[0]!.instructions[0]!.raw).toBe('dir   c:\\');
  });

  it('flags on COPY, several sources, the exec form', () => {
    const p = parseContainerfile('FROM x\nCOPY --from=build --chown=1:2 --chmod=644 a b* /dst/\nCOPY ["a b", "/c"]\n');
    const [c1, c2] = p.stages[0]!.instructions;
    expect(c1).toMatchObject({ flags: { from: 'build', chown: '1:2', chmod: '644' }, args: ['a', 'b*', '/dst/'] });
    expect(c2).toMatchObject({ json: true, args: ['a b', '/c'] });
  });

  it('heredocs', () => {
    const p = parseContainerfile('FROM x\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-END /f\n\thello\nEND\n');
    const [run, copy] = p.stages[0]!.instructions;
    expect(run!.heredocs).toEqual([{ name: 'EOF', body: 'echo one\necho two\n' }]);
    expect(copy!.heredocs).toEqual([{ name: 'END', body: 'hello\n' }]);
    expect(copy!.args).toEqual(['<<-END', '/f']);
  });

  it('errors name the file, the line and the instruction', () => {
    expect(() => parseContainerfile('FROM x\nBOGUS y\n', 'Dockerfile')).toThrow('Dockerfile:2: BOGUS: unknown instruction: BOGUS');
    expect(() => parseContainerfile('RUN x\n', 'Cf')).toThrow('Cf:1: RUN: no build stage in current context');
    expect(() => parseContainerfile('FROM x\nCOPY a\n', 'Cf')).toThrow(/^Cf:2: COPY: requires at least two arguments/);
    expect(() => parseContainerfile('FROM x\nWORKDIR\n', 'Cf')).toThrow('Cf:2: WORKDIR: requires exactly one argument');
    expect(() => parseContainerfile('FROM a b\n', 'Cf')).toThrow(/^Cf:1: FROM: requires either one or three arguments/);
    expect(() => parseContainerfile('FROM x\nONBUILD FROM y\n', 'Cf')).toThrow("Cf:2: ONBUILD: FROM isn't allowed as an ONBUILD trigger");
    expect(() => parseContainerfile('# just a comment\n', 'Cf')).toThrow('Cf:2: FROM: no FROM instruction found');
  });

  it('every instruction parses', () => {
    const text = [
      'FROM x',
      'ENV A=1 B="two words"',
      'ENV C legacy form',
      'ARG D',
      'WORKDIR /w',
      'USER u:g',
      'ENTRYPOINT ["/e"]',
      'EXPOSE 80 53/udp',
      'LABEL k=v',
      'VOLUME ["/v"]',
      'HEALTHCHECK --interval=5s CMD true',
      'STOPSIGNAL SIGTERM',
      'SHELL ["/bin/bash", "-c"]',
      'ONBUILD RUN echo hi',
      'ADD a.tar /',
      'MAINTAINER me',
    ].join('\n');
    const ins = parseContainerfile(text).stages[0]!.instructions;
    expect(ins.map((i) => i.cmd)).toEqual(['ENV', 'ENV', 'ARG', 'WORKDIR', 'USER', 'ENTRYPOINT', 'EXPOSE', 'LABEL', 'VOLUME', 'HEALTHCHECK', 'STOPSIGNAL', 'SHELL', 'ONBUILD', 'ADD', 'MAINTAINER']);
    expect(ins[9]!.flags).toEqual({ interval: '5s' });
    expect(keyValues('f', ins[0]!, {})).toEqual([
      ['A', '1'],
      ['B', 'two words'],
    ]);
    expect(keyValues('f', ins[1]!, {})).toEqual([['C', 'legacy form']]);
  });
});

describe('substitute', () => {
  const vars = { A: 'a', E: '', N: undefined };
  it.each([
    ['$A', 'a'],
    ['${A}x', 'ax'],
    ['${N:-def}', 'def'],
    ['${E:-def}', 'def'],
    ['${E-def}', ''],
    ['${A:-def}', 'a'],
    ['${A:+alt}', 'alt'],
    ['${N:+alt}', ''],
    ['${N:-$A}', 'a'],
    ["'$A'", '$A'],
    ['"$A b"', 'a b'],
    ['\\$A', '$A'],
    ['$NOPE-x', '-x'],
    ['cost: $', 'cost: $'],
  ])('%s → %s', (input, want) => {
    expect(substitute(input, vars)).toBe(want);
  });

  it('bad substitutions are errors', () => {
    expect(() => substitute('${A', vars)).toThrow(/missing '}'/);
    expect(() => substitute('"open', vars)).toThrow(/unterminated/);
  });
});

describe('splitWords', () => {
  it('keeps quoted spaces together', () => {
    expect(splitWords('a "b c" d\\ e')).toEqual(['a', '"b c"', 'd\\ e']);
  });
});

describe('.containerignore', () => {
  it('patterns, directories and exceptions', () => {
    const ig = loadIgnore('/nonexistent', '# c\n*.log\nbuild/\n**/tmp\n!keep.log\n');
    expect(ignored(ig, 'a.log')).toBe(true);
    expect(ignored(ig, 'keep.log')).toBe(false);
    expect(ignored(ig, 'build/x/y')).toBe(true);
    expect(ignored(ig, 'src/deep/tmp/f')).toBe(true);
    expect(ignored(ig, 'src/a.ts')).toBe(false);
    expect(ignored(ig, 'sub/a.log')).toBe(false);
  });
});

describe('checkPlatform', () => {
  it('accepts the host platform only', async () => {
    const { checkPlatform, hostPlatform } = await import('../../src/build/builder.js');
    const host = hostPlatform();
    expect(() => checkPlatform(host, '--platform')).not.toThrow();
    expect(() => checkPlatform(`${host}/`, '--platform')).not.toThrow();
    expect(() => checkPlatform(host.toUpperCase(), '--platform')).not.toThrow();
    const other = host === 'linux/arm64' ? 'linux/amd64' : 'linux/arm64';
    expect(() => checkPlatform(other, '--platform')).toThrow(`platform "${other}" is not supported: tspod builds only for the host platform ${host}`);
    expect(() => checkPlatform(`${host},${other}`, '--platform')).toThrow(other);
    expect(() => checkPlatform('windows/amd64', '--platform')).toThrow('not supported');
    expect(() => checkPlatform('amd64', '--platform')).toThrow('not supported');
  });
});
