import { defineCommand } from '../cli/command.js';
import { readAnswer } from '../cli/prompt.js';

export default defineCommand<{ all: boolean; force: boolean; filter?: string[] }>({
  describe: 'Remove unused images',
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Remove all images not in use by containers, not just dangling ones' },
    force: { type: 'boolean', alias: 'f', describe: 'Do not prompt for confirmation' },
    filter: { type: 'array', describe: 'Provide filter values (e.g. label=<key>=<value>)', placeholder: 'filters' },
  },
  async run(args, ctx) {
    if (!args.force) {
      const what = args.all ? 'all images not used by any container' : 'all dangling images';
      ctx.stdout.write(`WARNING! This command removes ${what}.\nAre you sure you want to continue? [y/N] `);
      const answer = await readAnswer(ctx.stdin);
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const ids = await (await ctx.engine()).pruneImages({ all: args.all, filters: args.filter ?? [] });
    return { stdout: ids.map((i) => `${i}\n`).join('') };
  },
});
