// `tspod unshare`: run a command inside tspod's user + mount namespace (the launcher has already
// joined it before node started), with the store paths in the environment as podman does.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { TspodError } from '../errors.js';
import type { EngineContext } from '../engine/context.js';

export function runUnshare(ctx: EngineContext, command: string[]): Promise<number> {
  if (ctx.rootless && !ctx.inUserns) {
    throw new TspodError('userns', 'not running inside the tspod user namespace', {
      hint: 'Run tspod through its launcher (the installed `tspod`), not `node dist/main.cjs`',
    });
  }
  const argv = command.length ? command : [ctx.env.SHELL || '/bin/sh'];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: 'inherit',
      env: { ...ctx.env, CONTAINERS_GRAPHROOT: ctx.graphRoot, CONTAINERS_RUNROOT: ctx.runRoot },
    });
    // The child owns the terminal now: let it get ^C; we only wait.
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new TspodError('command-not-found', `${argv[0]}: command not found`));
      else if (e.code === 'EACCES') reject(new TspodError('cannot-invoke', `${argv[0]}: permission denied`));
      else reject(new TspodError('internal', `running ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      resolve(code ?? 128 + (sig ? signalNumber(sig) : 0));
    });
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  const n = constants.signals[sig];
  return typeof n === 'number' ? n : 0;
}
