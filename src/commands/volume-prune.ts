import { defineCommand } from '../cli/command.js';
import { readAnswer } from '../cli/prompt.js';
import * as volumes from '../engine/volumes.js';

export default defineCommand<{ force: boolean; filter?: string[] }>({
  describe: 'Remove all unused volumes',
  flags: {
    filter: { type: 'array', describe: "Provide filter values (e.g. 'label=<key>=<value>')", placeholder: 'stringArray' },
    force: { type: 'boolean', alias: 'f', describe: 'Do not prompt for confirmation' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const store = engine.store();
    const users = volumes.usersOf(engine);
    const filters = (args.filter ?? []).map(String);
    if (!args.force) {
      // Podman lists what would go, then asks; with nothing to remove it does not ask.
      const candidates = volumes.pruneCandidates(store, filters, users);
      let text = 'WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n';
      if (candidates.length === 0) return { stdout: `${text}No dangling volumes found\n` };
      for (const v of candidates) text += `${v.name}\n`;
      ctx.stdout.write(`${text}Are you sure you want to continue? [y/N] `);
      const answer = await readAnswer(ctx.stdin);
      if (!/^y/i.test(answer)) return;
    }
    const names = await volumes.pruneVolumes(store, filters, users);
    return { stdout: names.map((n) => `${n}\n`).join('') };
  },
});
