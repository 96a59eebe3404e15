import { defineCommand } from '../cli/command.js';

export default defineCommand<{ container: string; name: string }>({
  describe: 'Rename an existing container',
  positionals: [
    { name: 'container', describe: 'container name or ID', required: true },
    { name: 'name', describe: 'new name', required: true },
  ],
  async run(args, ctx) {
    await (await ctx.engine()).renameContainer(args.container, args.name);
  },
});
