import { defineCommand } from '../cli/command.js';

export default defineCommand<{ container: string; 'detach-keys'?: string; 'no-stdin': boolean; 'sig-proxy': boolean }>({
  describe: 'Attach to a running container',
  positionals: [{ name: 'container', describe: 'container to attach to', required: true }],
  flags: {
    'detach-keys': { type: 'string', describe: 'Select the key sequence for detaching a container. Format is a single character [a-Z] or ctrl-<value> where <value> is one of: a-z, @, ^, [, , or _', placeholder: 'string' },
    'no-stdin': { type: 'boolean', describe: 'Do not attach STDIN. The default is false' },
    'sig-proxy': { type: 'boolean', default: true, describe: 'Proxy received signals to the process' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const rec = await engine.lookupContainer(args.container);
    const code = await engine.attachContainer(rec.id, {
      stdin: ctx.stdin,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      interactive: rec.config.interactive && !args['no-stdin'],
      detachKeys: args['detach-keys'] ?? rec.config.detachKeys,
    });
    return { exitCode: code ?? 0 };
  },
});
