import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ registry?: string; all: boolean; authfile?: string }>({
  describe: 'Log out of a container registry',
  positionals: [{ name: 'registry', describe: 'registry host[:port]' }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Remove the cached credentials for all registries in the auth file' },
    authfile: { type: 'string', describe: 'Path of the authentication file (also REGISTRY_AUTH_FILE)', placeholder: 'path' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    if (args.all) {
      engine.logout(undefined, args.authfile);
      return { stdout: 'Removed login credentials for all registries\n' };
    }
    if (!args.registry) throw new TspodError('usage', 'registry must be given', { hint: "See 'tspod logout --help'" });
    engine.logout(args.registry, args.authfile);
    return { stdout: `Removed login credentials for ${args.registry}\n` };
  },
});
