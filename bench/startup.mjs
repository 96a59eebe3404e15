#!/usr/bin/env node
// Startup benchmark: how long tspod takes to do (almost) nothing, against `node -e 0` (the floor of
// any Node program), as the unprivileged test user, with hyperfine.
//
//   node bench/startup.mjs [--runs 30] [--warmup 3] [--rounds 3] [--no-podman]
//                          [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Cases (hyperfine -N: no intermediate shell):
//   node -e 0                      the floor
//   tspod --version                target: <= 1.3x node -e 0 (the launcher answers it without the
//                                  user namespace, but still starts node)
//   tspod version                  context (probes the OCI runtime)
//   tspod --root R --runroot RR images    context: empty throwaway store
//   tspod --root R --runroot RR ps        context: empty throwaway store
//   podman --version, podman ... images / ps   context (skip with --no-podman)
// The runs are split into --rounds hyperfine invocations whose command order rotates, so slow drifts
// of the (shared) machine's load hit every command alike; medians of all runs are reported.
// Results: a table on stdout, JSON in bench/results/startup-<timestamp>.json (and startup-latest.json).
import { randomBytes } from 'node:crypto';
import {
  shAsUser, shq, run, median, stats, ratio, fmtMs, fmtRatio, verdict, printTable, writeResults, environment,
  parseArgs, which, USER_UID, BENCH_USER, engineCmd, removeStore, hyperfine, loadavg,
} from './lib.mjs';

const TARGET_VERSION_VS_NODE = 1.3;
const USAGE = 'usage: node bench/startup.mjs [--runs N] [--warmup N] [--rounds N] [--no-podman] [--scratch DIR] [--quiet]';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    runs: 30, warmup: 3, rounds: 3, podman: true, noPodman: false, scratch: `/var/tmp/tspod-bench-${USER_UID}`, quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/startup: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.noPodman) opts.podman = false;
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/startup] ${s}\n`);

async function main() {
  for (const cmd of ['tspod', 'node', 'hyperfine']) if (!which(cmd)) throw new Error(`${cmd} not installed`);
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = false;
  }
  const env = await environment();
  const dir = `${opts.scratch}/startup-${randomBytes(4).toString('hex')}`;
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${shq(dir)}/t ${shq(dir)}/p`));
  const q = (argv) => argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shq(a))).join(' ');
  const cases = [
    { name: 'node -e 0', cmd: 'node -e 0' },
    { name: 'tspod --version', cmd: 'tspod --version' },
    { name: 'tspod version', cmd: 'tspod version' },
    { name: 'tspod images (empty)', cmd: q(engineCmd('tspod', `${dir}/t`, 'images')) },
    { name: 'tspod ps (empty)', cmd: q(engineCmd('tspod', `${dir}/t`, 'ps')) },
    ...(opts.podman ? [
      { name: 'podman --version', cmd: 'podman --version' },
      { name: 'podman images (empty)', cmd: q(engineCmd('podman', `${dir}/p`, 'images')) },
      { name: 'podman ps (empty)', cmd: q(engineCmd('podman', `${dir}/p`, 'ps')) },
    ] : []),
  ];
  const byName = Object.fromEntries(cases.map((c) => [c.name, { name: c.name, cmd: c.cmd, times: [], user: [], system: [] }]));
  const perRound = Math.max(2, Math.ceil(opts.runs / opts.rounds));
  const loads = [loadavg()];
  try {
    for (let r = 0; r < opts.rounds; r++) {
      const order = cases.map((_, k) => cases[(k + r) % cases.length]);
      log(`round ${r + 1}/${opts.rounds}: ${perRound} runs + ${opts.warmup} warm-up of ${cases.length} commands (load ${loadavg()})`);
      const out = await hyperfine(order, { runs: perRound, warmup: opts.warmup, jsonPath: `${dir}/hyperfine-${r}.json` });
      for (const [k, res] of out.results.entries()) {
        const m = byName[order[k].name];
        m.times.push(...res.times.map((s) => s * 1000));
        // hyperfine exports only the mean user/system time of a benchmark: weight it by its runs
        for (let i = 0; i < res.times.length; i++) {
          m.user.push(res.user * 1000);
          m.system.push(res.system * 1000);
        }
      }
      loads.push(loadavg());
    }
  } finally {
    await removeStore('tspod', `${dir}/t`, { containers: false, log });
    if (opts.podman) await removeStore('podman', `${dir}/p`, { containers: false, log });
    await removeStore('tspod', dir, { containers: false, log });
  }

  const med = (n) => median(byName[n]?.times ?? []);
  const nodeMed = med('node -e 0');
  const results = Object.values(byName).map((m) => ({
    name: m.name,
    cmd: m.cmd,
    ...stats(m.times),
    samples: m.times,
    cpuMean: (m.user.reduce((a, b) => a + b, 0) + m.system.reduce((a, b) => a + b, 0)) / m.times.length,
    userMean: m.user.reduce((a, b) => a + b, 0) / m.times.length,
    systemMean: m.system.reduce((a, b) => a + b, 0) / m.times.length,
    vsNode: ratio(median(m.times), nodeMed),
  }));
  const versionRatio = ratio(med('tspod --version'), nodeMed);
  env.loadavgEnd = loadavg();

  process.stdout.write(`\ntspod startup benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'}, node ${env.node}; ` +
    `hyperfine -N, ${opts.rounds} rounds x ${perRound} runs (+${opts.warmup} warm-up each), medians; user ${BENCH_USER}\n` +
    `load average per round: ${loads.join(' | ')}\n\n`);
  printTable(
    ['command', 'median', 'mean', 'min', 'max', 'cpu (mean)', 'vs node -e 0'],
    results.map((r) => [r.name, fmtMs(r.median), fmtMs(r.mean), fmtMs(r.min), fmtMs(r.max), fmtMs(r.cpuMean), fmtRatio(r.vsNode)]),
  );
  process.stdout.write(`\ntspod --version / node -e 0: ${verdict(versionRatio, TARGET_VERSION_VS_NODE)}\n`);
  const file = writeResults('startup', {
    benchmark: 'startup',
    env: { ...env, loadavgRounds: loads },
    options: { ...opts, perRound },
    targets: { versionVsNode: TARGET_VERSION_VS_NODE },
    ratios: { versionVsNode: versionRatio },
    results,
  });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/startup] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
