// TSPOD_TRACE=1: timestamps of the phases of a command on stderr, for finding where time goes.
const on = process.env.TSPOD_TRACE === '1';

export function trace(label: string): void {
  if (on) process.stderr.write(`tspod-trace: [${(performance.now()).toFixed(1)} ms] ${label}\n`);
}
