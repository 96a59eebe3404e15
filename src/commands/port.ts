import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';
import { expandPorts } from '../network/ports.js';

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
    const list = args.all ? (await engine.listContainers()).filter((c) => c.state.status === 'running') : [await engine.lookupContainer(args.container!)];
    const want = args.port === undefined ? undefined : args.port.includes('/') ? args.port : `${args.port}/tcp`;
    let out = '';
    for (const c of list) {
      for (const p of expandPorts(c.config.portMappings ?? [])) {
        const host = `${p.hostIp ? (p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp) : '0.0.0.0'}:${p.hostPort}`;
        const key = `${p.containerPort}/${p.protocol}`;
        if (want !== undefined) {
          if (key === want) out += `${host}\n`;
        } else out += `${args.all ? `${c.id.slice(0, 12)}\t` : ''}${key} -> ${host}\n`;
      }
    }
    return { stdout: out };
  },
});
