import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

interface ExecArgs {
  container: string;
  command?: string[];
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  env?: string[];
  'env-file'?: string[];
  user?: string;
  workdir?: string;
  'detach-keys'?: string;
  privileged: boolean;
}

export default defineCommand<ExecArgs>({
  describe: 'Run a process in a running container',
  positionals: [
    { name: 'container', describe: 'container to run the process in', required: true },
    { name: 'command', describe: 'command and arguments', variadic: true },
  ],
  flags: {
    interactive: { type: 'boolean', alias: 'i', describe: 'Keep STDIN open even if not attached' },
    tty: { type: 'boolean', alias: 't', describe: 'Allocate a pseudo-TTY. The default is false' },
    detach: { type: 'boolean', alias: 'd', describe: 'Run the exec session in detached mode (backgrounded)' },
    env: { type: 'array', alias: 'e', describe: 'Set environment variables', placeholder: 'stringArray' },
    'env-file': { type: 'array', describe: 'Read in a file of environment variables', placeholder: 'file' },
    user: { type: 'string', alias: 'u', describe: 'Sets the username or UID used and optionally the groupname or GID for the specified command', placeholder: 'string' },
    workdir: { type: 'string', alias: 'w', describe: 'Working directory inside the container', placeholder: 'string' },
    'detach-keys': { type: 'string', describe: 'Select the key sequence for detaching a container. Format is a single character [a-Z] or ctrl-<value> where <value> is one of: a-z, @, ^, [, , or _', placeholder: 'string' },
    privileged: { type: 'boolean', describe: 'Give the process extended Linux capabilities inside the container' },
  },
  haltAtNonOption: true,
  examples: [
    ['tspod exec -it web /bin/sh', 'a shell in a running container'],
    ['tspod exec -u nobody -w /tmp web ls', 'as another user, in another directory'],
  ],
  async run(args, ctx) {
    const engine = await ctx.engine();
    const opts = {
      command: (args.command ?? []).map(String),
      tty: args.tty,
      interactive: args.interactive,
      env: (args.env ?? []).map(String),
      envFile: (args['env-file'] ?? []).map(String),
      user: args.user,
      workdir: args.workdir,
      privileged: args.privileged,
    };
    if (args.detach) {
      try {
        const r = await engine.execContainer(args.container, opts);
        return { stdout: `${r.sessionId}\n` };
      } catch (e) {
        // podman's detached exec reports every failure, a missing command included, as 125.
        if (e instanceof TspodError && e.exitCode !== 125) throw new TspodError(e.code, e.message, { hint: e.hint, cause: e, exitCode: 125 });
        throw e;
      }
    }
    try {
      const r = await engine.execContainer(args.container, opts, {
        stdin: ctx.stdin,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        interactive: args.interactive,
        detachKeys: args['detach-keys'],
      });
      return { exitCode: r.exitCode ?? 0 };
    } catch (e) {
      // podman reports a session that could not start with its exit code -1, i.e. 255.
      if (e instanceof TspodError && e.exitCode === 125 && e.code !== 'no-such-container' && e.code !== 'usage') {
        throw new TspodError(e.code, e.message, { hint: e.hint, cause: e, exitCode: 255 });
      }
      throw e;
    }
  },
});
