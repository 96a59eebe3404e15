import { defineCommand } from '../cli/command.js';
import { volumeExists } from '../engine/volumes.js';

export default defineCommand<{ name: string }>({
  describe: 'Check if a volume exists',
  positionals: [{ name: 'name', describe: 'volume name', required: true }],
  examples: [['tspod volume exists myvol', 'exit 0 if myvol exists, 1 if not']],
  async run(args, ctx) {
    return { exitCode: volumeExists((await ctx.engine()).store(), args.name) ? 0 : 1 };
  },
});
