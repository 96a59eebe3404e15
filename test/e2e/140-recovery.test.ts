// Recovery: the CLI killed (SIGKILL) in the middle of `run -d`, a container's monitor killed, a
// container that exits while no CLI runs. Afterwards the next calls must tell the truth and work:
// ps -a without warnings, rm -f, a new container.
//
// Requirements: rootless test user with subordinate ids, the fixture registry on 127.0.0.1:5000.

import { existsSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IS_PODMAN, cleanStore, ok, storeFor, tspod } from './helpers.js';

const store = storeFor('140-recovery');
const A = 'alpine:3.15';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function quiet(args: string[]): Promise<string> {
  const r = await ok(args, { store });
  expect(r.stderr).toBe('');
  return r.stdout;
}

async function fmt(name: string, template: string): Promise<string> {
  return (await quiet(['inspect', '--format', template, name])).replace(/\n$/, '');
}

/** pid is a live process (not a zombie). */
function alive(pid: number): boolean {
  if (!(pid > 0) || !existsSync(`/proc/${pid}`)) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean> | boolean, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(200);
  }
}

beforeAll(async () => {
  await cleanStore(store);
  const r = await ok(['pull', '-q', A], { store });
  expect(r.stderr).toBe('');
});

afterEach(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
});

afterAll(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
  await cleanStore(store);
});

describe('the CLI killed during run -d', () => {
  it.each([100, 200, 300, 450])('SIGKILL after %i ms: ps -a, rm -af and a new container work', async (ms) => {
    const name = `140-cut-${ms}`;
    // the helper's timeout SIGKILLs the CLI's whole process group (a monitor has its own session)
    const cut = await tspod(['run', '-d', '--name', name, A, 'sleep', '1000'], { store, timeoutMs: ms });
    expect([-1, 0]).toContain(cut.code);

    const ps = await ok(['ps', '-a', '--format', '{{.Names}}|{{.Status}}'], { store });
    // podman repairs its storage on the next call and says so; tspod's writes leave nothing to repair
    expect(IS_PODMAN ? ps.stderr.replace(/^time=.* level=warning msg="Found incomplete layer .*\n/gm, '') : ps.stderr).toBe('');
    const rows = ps.stdout.split('\n').filter(Boolean);
    expect(rows.length).toBeLessThanOrEqual(1);
    if (rows.length) expect(rows[0]).toMatch(new RegExp(`^${name}\\|(Created|Up .*|Exited \\(-?\\d+\\) .*|Stopped|Initialized|Configured)$`));
    // a container that says it runs has a live process
    if (rows[0]?.includes('|Up ')) expect(alive(Number(await fmt(name, '{{.State.Pid}}')))).toBe(true);

    const rm = await ok(['rm', '-a', '-f', '-t', '0'], { store });
    expect(rm.stderr).toBe('');
    expect(await quiet(['ps', '-a', '-q'])).toBe('');
    // the store is usable, the name is free again
    expect(await quiet(['run', '--rm', '--name', name, A, 'echo', 'fine'])).toBe('fine\n');
  });
});

describe('the monitor killed', () => {
  it('ps -a tells the truth, rm -f works and ends the container', async () => {
    await quiet(['run', '-d', '--name', '140-mon', A, 'sleep', '1000']);
    const mon = Number(await fmt('140-mon', '{{.State.ConmonPid}}'));
    const pid = Number(await fmt('140-mon', '{{.State.Pid}}'));
    expect(alive(mon)).toBe(true);
    expect(alive(pid)).toBe(true);
    process.kill(mon, 'SIGKILL');
    expect(await until(() => !alive(mon), 5000)).toBe(true);

    // whatever happened to the container's process, the state must not claim a run that is not there
    for (let i = 0; i < 5; i++) {
      const ps = await ok(['ps', '-a', '--format', '{{.Names}}|{{.Status}}'], { store });
      expect(ps.stderr).toBe('');
      expect(ps.stdout).toMatch(/^140-mon\|(Up|Exited \(-?\d+\)) /);
      if (ps.stdout.includes('|Up ')) expect(alive(pid)).toBe(true);
      await sleep(200);
    }
    const rm = await ok(['rm', '-f', '-t', '0', '140-mon'], { store });
    expect(rm.stderr).toBe('');
    expect(await quiet(['ps', '-a', '-q'])).toBe('');
    expect(await until(() => !alive(pid), 5000)).toBe(true);
  });

  // podman 4.3.1 trusts its database here and shows the container Up forever; design §4 asks more.
  it.skipIf(IS_PODMAN)('the monitor and then the container killed: ps -a shows it exited', async () => {
    await quiet(['run', '-d', '--name', '140-both', A, 'sleep', '1000']);
    const mon = Number(await fmt('140-both', '{{.State.ConmonPid}}'));
    const pid = Number(await fmt('140-both', '{{.State.Pid}}'));
    process.kill(mon, 'SIGKILL');
    expect(await until(() => !alive(mon), 5000)).toBe(true);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    expect(await until(() => !alive(pid), 5000)).toBe(true);
    const settled = await until(async () => /^140-both\|Exited \(-?\d+\) /.test(await quiet(['ps', '-a', '--format', '{{.Names}}|{{.Status}}'])), 10_000);
    expect(settled, await quiet(['ps', '-a'])).toBe(true);
    expect(await quiet(['ps', '-q'])).toBe('');
    expect(await fmt('140-both', '{{.State.Status}} {{.State.Running}} {{.State.Pid}}')).toBe('exited false 0');
    // and it can run again
    expect(await quiet(['start', '140-both'])).toBe('140-both\n');
    expect(await fmt('140-both', '{{.State.Status}}')).toBe('running');
  });
});

describe('exits nobody watches', () => {
  it('a container that exits after run -d returned: ps -a shows Exited (N)', async () => {
    await quiet(['run', '-d', '--name', '140-late', A, 'sh', '-c', 'sleep 0.5; exit 5']);
    await sleep(1500);
    const ps = await quiet(['ps', '-a', '--format', '{{.Names}}|{{.Status}}']);
    expect(ps).toMatch(/^140-late\|Exited \(5\) /);
    expect(await fmt('140-late', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}')).toBe('exited 5 0');
    expect(await quiet(['ps', '-q'])).toBe('');
  });

  it('the container process killed from outside: Exited (137)', async () => {
    await quiet(['run', '-d', '--name', '140-outside', A, 'sleep', '1000']);
    const pid = Number(await fmt('140-outside', '{{.State.Pid}}'));
    process.kill(pid, 'SIGKILL');
    const settled = await until(async () => /^140-outside\|Exited \(137\) /.test(await quiet(['ps', '-a', '--format', '{{.Names}}|{{.Status}}'])), 10_000);
    expect(settled, await quiet(['ps', '-a'])).toBe(true);
  });
});
