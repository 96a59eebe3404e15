import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ container?: string; port?: string; all: boolean }>({
  describe: 'List port mappings or a specific mapping for the container',
  positionals: [
    { name: 'container', describe: 'container' },
    { name: 'port', describe: 'PRIVATE_PORT[/PROTO]' },
  ],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Display port information for all containers' },
  },
  async run(args, ctx) {
    if (args.all && args.container !== undefined) throw new TspodError('usage', 'no arguments are needed with --all');
    if (!args.all && args.container === undefined) throw new TspodError('usage', 'you must supply a running container name or id');
    if (args.port !== undefined) {
      const m = /^([^/]*)(?:\/(.*))?$/.exec(args.port)!;
      // podman parses the port with strconv.ParseUint(port, 10, 16) and shows Go's error.
      if (!/^[0-9]+$/.test(m[1]!)) throw new TspodError('invalid-argument', `strconv.ParseUint: parsing ${JSON.stringify(m[1])}: invalid syntax`);
      if (Number(m[1]) > 65535) throw new TspodError('invalid-argument', `strconv.ParseUint: parsing ${JSON.stringify(m[1])}: value out of range`);
    }
    const engine = await ctx.engine();
    // Published ports come with user-mode networking; until then no container has any.
    if (!args.all) await engine.lookupContainer(args.container!);
    return { stdout: '' };
  },
});
