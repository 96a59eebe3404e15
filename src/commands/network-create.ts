import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';
import { createNetwork } from '../engine/networks.js';

interface Args {
  name?: string;
  subnet?: string;
  gateway?: string;
  internal: boolean;
  label?: string[];
  driver?: string;
  ignore: boolean;
}

export default defineCommand<Args>({
  describe: 'Create a network (a bridge between containers)',
  positionals: [{ name: 'name', describe: 'network name (default podmanN)' }],
  flags: {
    subnet: { type: 'string', describe: 'Subnet in CIDR format (default: a free 10.89.N.0/24)', placeholder: 'subnet' },
    gateway: { type: 'string', describe: 'IPv4 gateway for the subnet', placeholder: 'ip' },
    internal: { type: 'boolean', describe: 'Restrict external access from this network' },
    label: { type: 'array', describe: 'Set metadata on a network', placeholder: 'key=value' },
    driver: { type: 'string', alias: 'd', describe: 'Driver to manage the network (bridge)', placeholder: 'string' },
    ignore: { type: 'boolean', describe: "Don't fail if the network already exists" },
  },
  examples: [['tspod network create --subnet 10.89.5.0/24 mynet', 'a network with its own subnet']],
  async run(args, ctx) {
    if (args.driver && args.driver !== 'bridge') throw new TspodError('unsupported', `unsupported driver ${args.driver}: tspod has the bridge driver only`);
    const labels: Record<string, string> = {};
    for (const l of args.label ?? []) {
      const [k = '', v = ''] = String(l).split(/=(.*)/s);
      labels[k] = v;
    }
    const store = (await ctx.engine()).store();
    const n = await createNetwork(store, { name: args.name, subnet: args.subnet, gateway: args.gateway, internal: Boolean(args.internal), labels, ignore: Boolean(args.ignore) });
    return { stdout: `${n.name}\n` };
  },
});
