// Entry point. Kept tiny: `tspod --version` answers before anything else is loaded.
declare const __TSPOD_VERSION__: string;

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`tspod version ${__TSPOD_VERSION__}\n`);
} else {
  const { runCli } = await import('./run.js');
  const code = await runCli(args);
  // Flush stdout/stderr before leaving; a pipe reader must see everything.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
