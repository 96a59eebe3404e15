import { defineCommand } from '../cli/command.js';

export default defineCommand<{ image: string; names: string[] }>({
  describe: 'Remove a name from a local image',
  positionals: [
    { name: 'image', describe: 'image to untag', required: true },
    { name: 'names', describe: 'names to remove (default: all)', variadic: true },
  ],
  async run(args, ctx) {
    await (await ctx.engine()).untagImage(args.image, args.names ?? []);
  },
});
