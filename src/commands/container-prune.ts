import { defineCommand } from '../cli/command.js';
import { readAnswer } from '../cli/prompt.js';
import { asTspodError, formatError } from '../errors.js';

export default defineCommand<{ force: boolean; filter?: string[] }>({
  describe: 'Remove all non running containers',
  flags: {
    force: { type: 'boolean', alias: 'f', describe: 'Do not prompt for confirmation' },
    filter: { type: 'array', describe: 'Provide filter values (e.g. label=<key>=<value>, until=<timestamp>)', placeholder: 'filters' },
  },
  async run(args, ctx) {
    if (!args.force) {
      ctx.stdout.write('WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ');
      const answer = await readAnswer(ctx.stdin);
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const report = await (await ctx.engine()).pruneContainers((args.filter ?? []).map(String));
    for (const e of report.errors) ctx.stderr.write(`${formatError(asTspodError(e))}\n`);
    return {
      stdout: report.removed.map((i) => `${i}\n`).join(''),
      exitCode: report.errors.length ? asTspodError(report.errors[report.errors.length - 1]).exitCode : 0,
    };
  },
});
