// Helpers for end-to-end tests: run the installed tspod (or podman, with TSPOD_BIN=podman) as the
// unprivileged test user created by scripts/setup-test-host.sh. Tests run as root (sudo bash
// scripts/test.sh); every command is run as the test user with a login-like environment.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  store?: Store;
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** run as this user instead of TEST_USER (e.g. 'tspodnosub') */
  user?: string;
}

export const BIN: string = process.env.TSPOD_BIN ?? '/usr/local/bin/tspod';
export const IS_PODMAN: boolean = basename(BIN) === 'podman';
export const TEST_USER = 'tspodtest';
export const REGISTRY = '127.0.0.1:5000',
  AUTH_REGISTRY = '127.0.0.1:5001',
  BASIC_REGISTRY = '127.0.0.1:5003';
export const CREDS = { username: 'tspoduser', password: 'tspodpass' };

export interface Store {
  name: string;
  root: string;
  runroot: string;
  args: string[];
}

interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const userCache = new Map<string, UserInfo>();

function lookupUser(name: string): UserInfo {
  const cached = userCache.get(name);
  if (cached) return cached;
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) {
      const info = { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
      userCache.set(name, info);
      return info;
    }
  }
  throw new Error(`user ${name} does not exist: run scripts/setup-test-host.sh as root first`);
}

function storeBase(name: string): string {
  return join(lookupUser(TEST_USER).home, 'e2e', name);
}

/** A private store under the test user's home: /home/tspodtest/e2e/<name>/{root,run}. */
export function storeFor(name: string): Store {
  const base = storeBase(name);
  const root = join(base, 'root');
  const runroot = join(base, 'run');
  return { name, root, runroot, args: ['--root', root, '--runroot', runroot] };
}

/** Removes a store. Its files belong to subordinate ids, so rm runs inside the user namespace. */
export async function cleanStore(s: Store): Promise<void> {
  const base = storeBase(s.name);
  if (!existsSync(base)) return;
  await runAs([BIN, ...s.args, 'unshare', 'rm', '-rf', base], { timeoutMs: 60_000 }).catch(() => undefined);
  if (existsSync(base)) rmSync(base, { recursive: true, force: true });
}

function userEnv(u: UserInfo, extra?: Record<string, string>): Record<string, string> {
  return {
    HOME: u.home,
    USER: u.name,
    LOGNAME: u.name,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    XDG_RUNTIME_DIR: `/run/user/${u.uid}`,
    LANG: 'C.UTF-8',
    ...(process.env.TSPOD_E2E_DEBUG ? { TSPOD_DEBUG: process.env.TSPOD_E2E_DEBUG } : {}),
    ...extra,
  };
}

// Runs argv as the user (setpriv drops to the user's uid/gid and supplementary groups when we are
// root; as a non-root user the command simply runs as ourselves).
function runAs(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const u = lookupUser(opts.user ?? TEST_USER);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const env = userEnv(u, opts.env);
  const setprivArgs =
    process.getuid?.() === 0
      ? ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--']
      : null;
  const [cmd, args] = setprivArgs ? ['setpriv', [...setprivArgs, ...argv]] : [argv[0], argv.slice(1)];

  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: u.home,
      env,
      detached: true, // own process group, so a timeout can kill everything it started
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined); // EPIPE when the command does not read stdin
      child.stdin!.end(opts.input);
    }
    let timedOut = false;
    let settled = false;
    let exitCode: number | null = null;
    let grace: NodeJS.Timeout | undefined;

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolve({
        code: timedOut ? -1 : (exitCode ?? -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      err.push(Buffer.from(`\n[helpers] timed out after ${timeoutMs} ms: ${argv.join(' ')}\n`));
      // the group may not die if a member changed its process group; don't wait forever
      setTimeout(finish, 2000).unref();
    }, timeoutMs);

    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 + (osSignals[signal] ?? 0) : -1);
      // A daemonized grandchild (pause process, monitor) may keep stdout/stderr open:
      // give the pipes a moment to drain, then stop waiting for them.
      grace = setTimeout(finish, 500);
    });
    child.on('close', finish);
  });
}

const osSignals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Runs BIN (tspod or podman) as the test user; store args come first when given. */
export async function tspod(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runAs([BIN, ...(opts.store?.args ?? []), ...args], opts);
}

function describe(args: string[], r: RunResult): string {
  return `${basename(BIN)} ${args.join(' ')}\nexit code: ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Runs BIN and asserts exit code 0. */
export async function ok(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await tspod(args, opts);
  if (r.code !== 0) throw new Error(`expected exit code 0\n${describe(args, r)}`);
  return r;
}

/** Runs BIN and asserts the given exit code. */
export async function fails(args: string[], code: number, opts: RunOptions = {}): Promise<RunResult> {
  const r = await tspod(args, opts);
  if (r.code !== code) throw new Error(`expected exit code ${code}\n${describe(args, r)}`);
  return r;
}

/** Runs any command as the test user, with the same environment as tspod(). */
export async function asUser(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runAs([cmd, ...args], opts);
}
