// Container lifecycle: create, start (-a), stop (timeouts, --all), kill with signals, restart, rm
// (running, -f, -a), wait, rename, container exists, inspect's state fields, restart policies, a
// container outliving the CLI that started it, and 20 containers started at once.
//
// Requirements: rootless test user with subordinate ids, the fixture registry on 127.0.0.1:5000
// (docker.io mirror).

import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IS_PODMAN, cleanStore, fails, ok, storeFor, tspod, type RunResult } from './helpers.js';

const store = storeFor('110-lifecycle');
const A = 'alpine:3.15';
const ID = /^[0-9a-f]{64}$/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stderr of a successful stop: empty. podman 4.3.1 logs a warning when the stop signal did not
 * stop the container in time and it resorted to SIGKILL; that one warning is podman's, not a fault.
 */
function expectStopStderr(r: RunResult): void {
  const rest = IS_PODMAN ? r.stderr.replace(/^time=.* level=warning msg="StopSignal \w+ failed to stop container .*\n/gm, '') : r.stderr;
  expect(rest).toBe('');
}

/** ok() and an empty stderr; returns stdout. */
async function quiet(args: string[]): Promise<string> {
  const r = await ok(args, { store });
  expect(r.stderr).toBe('');
  return r.stdout;
}

async function fmt(name: string, template: string): Promise<string> {
  return (await quiet(['inspect', '--format', template, name])).replace(/\n$/, '');
}

/** `run -d` of a long sleeper: prints the full ID. */
async function runD(name: string, extra: string[] = [], cmd: string[] = ['sleep', '1000']): Promise<string> {
  const out = await quiet(['run', '-d', '--name', name, ...extra, A, ...cmd]);
  expect(out).toMatch(/^[0-9a-f]{64}\n$/);
  return out.trim();
}

/** Polls until check() is true (about `ms` at most); returns its last value. */
async function until(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(200);
  }
}

async function allNames(): Promise<string[]> {
  return (await quiet(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
}

beforeAll(async () => {
  await cleanStore(store);
  const r = await ok(['pull', '-q', A], { store });
  expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  expect(r.stderr).toBe('');
});

afterEach(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
});

afterAll(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
  await cleanStore(store);
});

describe('create, start, wait', () => {
  it('create prints the ID; the container is Created and not running', async () => {
    const id = (await quiet(['create', '--name', '110-c', A, 'sh', '-c', 'echo out; echo err >&2; exit 3'])).trim();
    expect(id).toMatch(ID);
    expect(await fmt('110-c', '{{.Id}} {{.Name}} {{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}}')).toBe(`${id} 110-c created false 0 0`);
    expect(await fmt('110-c', '{{.State.StartedAt}}|{{.State.FinishedAt}}')).toBe('0001-01-01 00:00:00 +0000 UTC|0001-01-01 00:00:00 +0000 UTC');
    expect(await fmt('110-c', '{{.Config.Cmd}} {{.ImageName}}')).toBe('[sh -c echo out; echo err >&2; exit 3] docker.io/library/alpine:3.15');
    expect(await quiet(['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).toBe('110-c Created\n');
    expect(await quiet(['ps', '-q'])).toBe('');
  });

  it('start prints the name as given; wait prints the exit code; logs keep the output', async () => {
    const id = (await quiet(['create', '--name', '110-s', A, 'sh', '-c', 'echo out; echo err >&2; exit 3'])).trim();
    expect(await quiet(['start', '110-s'])).toBe('110-s\n');
    expect(await quiet(['wait', '110-s'])).toBe('3\n');
    expect(await fmt('110-s', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}')).toBe('exited 3 0');
    const logs = await ok(['logs', '110-s'], { store });
    expect(logs.stdout).toBe('out\n');
    expect(logs.stderr).toBe('err\n');
    // by ID prefix too
    expect(await quiet(['start', id.slice(0, 12)])).toBe(`${id.slice(0, 12)}\n`);
    expect(await quiet(['wait', id])).toBe('3\n');
  });

  it('start -a attaches: the output, and the exit code of the container', async () => {
    await quiet(['create', '--name', '110-sa', A, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    const r = await fails(['start', '-a', '110-sa'], 3, { store });
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(await fmt('110-sa', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 3');
  });

  it('inspect times: StartedAt <= FinishedAt, both after Created', async () => {
    await quiet(['run', '--name', '110-t', A, 'sleep', '0.2']);
    const [created, started, finished] = (await fmt('110-t', '{{.Created}}|{{.State.StartedAt}}|{{.State.FinishedAt}}')).split('|').map((t) => {
      // Go's time.Time String(): 2024-01-02 15:04:05.123456789 +0000 UTC
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? \+0000 UTC$/.exec(t!);
      expect(m, t).not.toBeNull();
      return Date.parse(`${m![1]}T${m![2]}${(m![3] ?? '').slice(0, 4)}Z`);
    });
    expect(started).toBeGreaterThanOrEqual(created! - 1);
    expect(finished! - started!).toBeGreaterThanOrEqual(150);
    expect(Date.now() - finished!).toBeLessThan(60_000);
  });

  it('wait of several containers prints one exit code per line', async () => {
    await quiet(['run', '-d', '--name', '110-w1', A, 'sh', '-c', 'sleep 0.3; exit 5']);
    await quiet(['run', '-d', '--name', '110-w2', A, 'sh', '-c', 'exit 6']);
    expect(await quiet(['wait', '110-w1', '110-w2'])).toBe('5\n6\n');
  });

  it('wait for a container that does not exist: exit 125', async () => {
    const r = await fails(['wait', '110-nope'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: no container with name or ID "110-nope" found: no such container\n');
  });
});

describe('a running container', () => {
  it('State.Pid is a process on the host; ps shows it Up; the CLI that started it is gone', async () => {
    const t0 = Date.now();
    const id = await runD('110-up');
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await fmt('110-up', '{{.State.Status}} {{.State.Running}}')).toBe('running true');
    const pid = Number(await fmt('110-up', '{{.State.Pid}}'));
    expect(pid).toBeGreaterThan(1);
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    const conmon = Number(await fmt('110-up', '{{.State.ConmonPid}}'));
    expect(conmon).toBeGreaterThan(1);
    expect(existsSync(`/proc/${conmon}`)).toBe(true);
    const ps = await quiet(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
    expect(ps).toMatch(new RegExp(`^${id.slice(0, 12)} 110-up Up `));
    // later calls see it still running
    await sleep(500);
    expect(await fmt('110-up', '{{.State.Status}} {{.State.Pid}}')).toBe(`running ${pid}`);
  });

  it('rm of a running container fails (exit 2); rm -f removes it', async () => {
    const id = await runD('110-rm');
    const r = await fails(['rm', '110-rm'], 2, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `Error: cannot remove container ${id} as it is running - running or paused containers cannot be removed without force: container state improper\n`,
    );
    expect(await fmt('110-rm', '{{.State.Status}}')).toBe('running');
    const pid = Number(await fmt('110-rm', '{{.State.Pid}}'));
    expect(await quiet(['rm', '-f', '-t', '0', '110-rm'])).toBe('110-rm\n');
    expect(await allNames()).toEqual([]);
    expect(await until(async () => !existsSync(`/proc/${pid}`), 5000)).toBe(true);
  });

  it('rm -a removes every container, running or not', async () => {
    const ids = [await runD('110-ra1'), (await quiet(['create', '--name', '110-ra2', A, 'true'])).trim()];
    await quiet(['run', '--name', '110-ra3', A, 'true']);
    ids.push(await fmt('110-ra3', '{{.Id}}'));
    const out = await quiet(['rm', '-a', '-f', '-t', '0']);
    expect(out.split('\n').filter(Boolean).sort()).toEqual(ids.sort());
    expect(await allNames()).toEqual([]);
  });

  it('rename; container exists', async () => {
    await runD('110-old');
    const r = await ok(['rename', '110-old', '110-new'], { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    const exists = async (n: string): Promise<number> => {
      const e = await tspod(['container', 'exists', n], { store });
      expect(e.stdout).toBe('');
      expect(e.stderr).toBe('');
      return e.code;
    };
    expect(await exists('110-new')).toBe(0);
    expect(await exists('110-old')).toBe(1);
    expect(await fmt('110-new', '{{.Name}} {{.State.Status}}')).toBe('110-new running');
    const dup = await runD('110-other');
    expect(dup).toMatch(ID);
    const clash = await fails(['rename', '110-new', '110-other'], 125, { store });
    expect(clash.stdout).toBe('');
    expect(clash.stderr).toMatch(/^Error: .*110-other.*already in use/);
  });
});

describe('stop and kill', () => {
  it('stop: SIGTERM is ignored by a shell as PID 1, so SIGKILL after the timeout: 137', async () => {
    await runD('110-stop', [], ['sh', '-c', 'while :; do sleep 0.1; done']);
    const t0 = Date.now();
    const r = await ok(['stop', '-t', '1', '110-stop'], { store });
    const took = Date.now() - t0;
    expect(r.stdout).toBe('110-stop\n');
    expectStopStderr(r);
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(10_000);
    expect(await fmt('110-stop', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}')).toBe('exited 137 0');
    expect(await quiet(['wait', '110-stop'])).toBe('137\n');
    expect(await quiet(['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).toMatch(/^110-stop Exited \(137\) /);
  });

  it('stop of a process that dies of SIGTERM: 143, without waiting for the timeout', async () => {
    await runD('110-term', ['--init']);
    const t0 = Date.now();
    const r = await ok(['stop', '-t', '20', '110-term'], { store });
    expect(r.stdout).toBe('110-term\n');
    expect(r.stderr).toBe('');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await fmt('110-term', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 143');
  });

  it('stop -t 0 kills at once; stop of a stopped container is fine', async () => {
    await runD('110-t0');
    const t0 = Date.now();
    const r = await ok(['stop', '-t', '0', '110-t0'], { store });
    expect(r.stdout).toBe('110-t0\n');
    expectStopStderr(r);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await fmt('110-t0', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');
    expect(await quiet(['stop', '110-t0'])).toBe('110-t0\n');
  });

  it('stop --all stops every running container', async () => {
    const ids = [await runD('110-all1'), await runD('110-all2')];
    const r = await ok(['stop', '--all', '-t', '0'], { store });
    expectStopStderr(r);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(ids.sort());
    expect(await quiet(['ps', '-q'])).toBe('');
    expect(await fmt('110-all1', '{{.State.Status}}')).toBe('exited');
    expect(await fmt('110-all2', '{{.State.Status}}')).toBe('exited');
  });

  it('kill -s HUP and TERM reach the trap of the shell; kill prints the name', async () => {
    const script = 'trap "echo got-hup" HUP; trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done';
    await runD('110-kill', [], ['sh', '-c', script]);
    expect(await until(async () => (await quiet(['logs', '110-kill'])) === 'ready\n', 5000)).toBe(true);
    expect(await quiet(['kill', '-s', 'HUP', '110-kill'])).toBe('110-kill\n');
    expect(await until(async () => (await quiet(['logs', '110-kill'])) === 'ready\ngot-hup\n', 5000)).toBe(true);
    expect(await fmt('110-kill', '{{.State.Status}}')).toBe('running');
    expect(await quiet(['kill', '--signal', 'TERM', '110-kill'])).toBe('110-kill\n');
    expect(await quiet(['wait', '110-kill'])).toBe('7\n');
    expect(await quiet(['logs', '110-kill'])).toBe('ready\ngot-hup\ngot-term\n');
  });

  it('kill (default SIGKILL) and kill -s KILL: 137; kill of a stopped container: exit 125', async () => {
    await runD('110-k1');
    await runD('110-k2');
    expect(await quiet(['kill', '110-k1'])).toBe('110-k1\n');
    expect(await quiet(['kill', '-s', 'KILL', '110-k2'])).toBe('110-k2\n');
    expect(await quiet(['wait', '110-k1', '110-k2'])).toBe('137\n137\n');
    const id = await fmt('110-k1', '{{.Id}}');
    const r = await fails(['kill', '110-k1'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: can only kill running containers. ${id} is in state exited: container state improper\n`);
  });

  it('restart: a new process, running again; prints the name as given', async () => {
    await runD('110-rs');
    const pid1 = await fmt('110-rs', '{{.State.Pid}}');
    const r = await ok(['restart', '-t', '0', '110-rs'], { store });
    expect(r.stdout).toBe('110-rs\n');
    expectStopStderr(r);
    expect(await fmt('110-rs', '{{.State.Status}}')).toBe('running');
    const pid2 = await fmt('110-rs', '{{.State.Pid}}');
    expect(pid2).not.toBe(pid1);
    expect(existsSync(`/proc/${pid2}`)).toBe(true);
    // a restart asked for by the user is no restart-policy restart
    expect(await fmt('110-rs', '{{.RestartCount}}')).toBe('0');
    // restart of an exited container starts it
    await quiet(['stop', '-t', '0', '110-rs']);
    expect(await quiet(['restart', '110-rs'])).toBe('110-rs\n');
    expect(await fmt('110-rs', '{{.State.Status}}')).toBe('running');
  });
});

describe('restart policies', () => {
  it('--restart on-failure:2 restarts a failing container twice', async () => {
    await quiet(['run', '-d', '--name', '110-onf', '--restart', 'on-failure:2', A, 'sh', '-c', 'echo run; exit 1']);
    const done = await until(async () => (await fmt('110-onf', '{{.State.Status}} {{.RestartCount}}')) === 'exited 2', 20_000);
    expect(done, await fmt('110-onf', '{{.State.Status}} {{.RestartCount}}')).toBe(true);
    await sleep(1000); // and no third restart
    expect(await fmt('110-onf', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}')).toBe(
      'exited 2 1 on-failure 2',
    );
    expect(await quiet(['logs', '110-onf'])).toBe('run\nrun\nrun\n');
  });

  it('--restart on-failure does not restart a container that succeeded', async () => {
    await quiet(['run', '-d', '--name', '110-ons', '--restart', 'on-failure', A, 'sh', '-c', 'echo once']);
    expect(await quiet(['wait', '110-ons'])).toBe('0\n');
    await sleep(1000);
    expect(await fmt('110-ons', '{{.State.Status}} {{.RestartCount}}')).toBe('exited 0');
    expect(await quiet(['logs', '110-ons'])).toBe('once\n');
  });

  it('--restart always: the container comes back after its process is killed', async () => {
    await runD('110-always', ['--restart', 'always']);
    const pid = Number(await fmt('110-always', '{{.State.Pid}}'));
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL'); // as root: the container's process, outside of tspod
    const back = await until(async () => {
      const [st, p, n] = (await fmt('110-always', '{{.State.Status}} {{.State.Pid}} {{.RestartCount}}')).split(' ');
      return st === 'running' && Number(p) !== pid && Number(p) > 0 && n === '1';
    }, 20_000);
    expect(back, await fmt('110-always', '{{.State.Status}} {{.State.Pid}} {{.RestartCount}}')).toBe(true);
    const pid2 = Number(await fmt('110-always', '{{.State.Pid}}'));
    expect(existsSync(`/proc/${pid2}`)).toBe(true);
    // stop by the user: stays stopped
    const r = await ok(['stop', '-t', '0', '110-always'], { store });
    expect(r.stdout).toBe('110-always\n');
    expectStopStderr(r);
    await sleep(1000);
    expect(await fmt('110-always', '{{.State.Status}}')).toBe('exited');
  });
});

describe('many containers', () => {
  it('20 run -d at once: all succeed, all show in ps, rm -f removes them all', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `110-par${String(i).padStart(2, '0')}`);
    const results = await Promise.all(names.map((n) => tspod(['run', '-d', '--name', n, A, 'sleep', '1000'], { store, timeoutMs: 90_000 })));
    for (const [i, r] of results.entries()) {
      expect(r.code, `${names[i]}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      expect(r.stderr).toBe('');
    }
    const ids = results.map((r) => r.stdout.trim());
    expect(new Set(ids).size).toBe(20);
    const ps = await quiet(['ps', '--format', '{{.Names}} {{.Status}}']);
    const rows = ps.split('\n').filter(Boolean).sort();
    expect(rows.map((l) => l.split(' ')[0])).toEqual(names);
    for (const row of rows) expect(row).toMatch(/^110-par\d\d Up /);
    const rm = await ok(['rm', '-f', '-t', '0', ...names], { store, timeoutMs: 90_000 });
    expect(rm.stderr).toBe('');
    expect(rm.stdout.split('\n').filter(Boolean).sort()).toEqual(names);
    expect(await allNames()).toEqual([]);
  });
});
