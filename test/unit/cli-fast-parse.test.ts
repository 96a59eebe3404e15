// The fast argument parser must read every command line it accepts exactly as yargs does (it
// declines the rest, which then goes to yargs). Checked over generated lines for every command:
// each flag alone in its long, short and `=` spellings, all of them together, and typical lines.
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/index.js';
import type { CommandSpec, FlagSpec } from '../../src/cli/command.js';
import { fastParse } from '../../src/cli/fast-parse.js';
import { GLOBAL_FLAGS } from '../../src/cli/globals.js';
import { yargsParse } from '../../src/cli/run.js';

function sample(f: FlagSpec): string {
  if (f.choices) return f.choices[f.choices.length - 1]!;
  return f.type === 'number' ? '7' : 'v=a:b,c';
}

/** Each flag in every spelling, then everything together. */
function lines(spec: CommandSpec<any>): string[][] {
  const out: string[][] = [];
  const all: string[] = [];
  for (const [k, f] of Object.entries({ ...(spec.flags ?? {}), ...GLOBAL_FLAGS })) {
    const aliases = f.alias === undefined ? [] : Array.isArray(f.alias) ? f.alias : [f.alias];
    const names = [`--${k}`, ...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
    for (const n of names) {
      if (f.type === 'boolean' || f.type === 'count') {
        out.push([n]);
        if (n.startsWith('--')) out.push([`${n}=false`], [`${n}=true`]);
      } else {
        out.push([n, sample(f)]);
        if (n.startsWith('--')) out.push([`${n}=${sample(f)}`]);
        if (f.type === 'array') out.push([n, 'one', n, 'two']);
      }
    }
    all.push(...(f.type === 'boolean' || f.type === 'count' ? [`--${k}`] : [`--${k}`, sample(f)]));
  }
  const pos = (spec.positionals ?? []).map((p, i) => `word${i}`);
  const withPos = (l: string[]): string[] => (spec.haltAtNonOption ? [...l, ...pos, '-x', '--y', 'z'] : [...pos, ...l]);
  return [...out.map(withPos), withPos(all), withPos([]), [...pos, '--', 'a', '-b']];
}

const TYPICAL: Array<[string, string[]]> = [
  ['run', ['--rm', 'alpine:3.15', 'true']],
  ['run', ['--rm', '-it', '-v', '/a:/b:ro', '-e', 'A=1', '--name', 'web', '-p', '8080:80', 'alpine:3.15', 'sh', '-c', 'echo hi']],
  ['run', ['-d', '--network', 'none', '--restart', 'always', 'alpine', 'sleep', '100']],
  ['ps', ['-a', '--format', '{{.Names}}']],
  ['rm', ['-f', 'a', 'b']],
  ['exec', ['-it', 'web', 'sh']],
  ['images', ['-q']],
  ['start', ['-a', 'web']],
  ['stop', ['-t', '0', 'web']],
];

describe('fast parser = yargs', async () => {
  const mods = await Promise.all(COMMANDS.map(async (c) => ({ path: c.paths[0]!, spec: (await c.load()).default as CommandSpec<any> })));
  for (const { path, spec } of mods) {
    it(path, async () => {
      for (const l of lines(spec)) {
        const fast = fastParse(spec, GLOBAL_FLAGS, l);
        if (!fast) continue;
        const slow = await yargsParse(spec, path, [...l]);
        const norm = (o: Record<string, unknown>) => {
          const { $0: _, ...r } = o;
          return { ...r, _: (r._ as unknown[]).map(String) };
        };
        expect({ line: l, parsed: norm(fast) }).toEqual({ line: l, parsed: norm(slow) });
      }
    });
  }
  it('takes the everyday lines itself', () => {
    for (const [path, l] of TYPICAL) {
      const spec = mods.find((m) => m.path === path)!.spec;
      expect(fastParse(spec, GLOBAL_FLAGS, l), `${path} ${l.join(' ')}`).toBeDefined();
    }
  });
  it('leaves --help, unknown flags, missing values and bad choices to yargs', () => {
    const run = mods.find((m) => m.path === 'run')!.spec;
    for (const l of [['--help'], ['-h'], ['--nope', 'x'], ['--name'], ['--name', '--rm'], ['--log-level', 'loud', 'a'], ['-p80', 'a'], ['--pull', 'sometimes', 'a']]) {
      expect(fastParse(run, GLOBAL_FLAGS, l), l.join(' ')).toBeUndefined();
    }
  });
});
