#!/usr/bin/env node
// Container listing benchmark: `ps -a` (and `ps -a --format '{{.ID}}'`) over many created
// containers, tspod vs podman, as the unprivileged test user, each with its own throwaway store.
//
//   node bench/ps.mjs [--count 1000] [--runs 10] [--warmup 1] [--parallel 4] [--image alpine:3.15]
//                     [--source 127.0.0.1:5000/library/alpine:3.15] [--no-podman]
//                     [--keep] [--base DIR] [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Setup (timed for information only): pull SOURCE into each store and tag it IMAGE, then
// `create IMAGE true` --count times per engine, --parallel commands at a time. podman needs about
// 0.3-0.5 s of CPU per create on a 2-core host, so 1,000 take a few minutes (--count 300 for a quick
// run). Then --runs samples (after --warmup) of each case, the order rotated every run:
//   tspod  --root R --runroot RR ps -a        podman --storage-driver overlay --root R ... ps -a
//   tspod  ... ps -a --format '{{.ID}}'       podman ... ps -a --format '{{.ID}}'
// One sample = wall clock of the command (measured inside a subreaper wrapper, see runTree in
// lib.mjs) with the CPU time of its whole process tree. Every sample's output must list --count
// containers. Finally `rm -af` is timed (information) and the stores are removed.
// --keep leaves the stores in place (their directory is printed); --base DIR reuses such a directory
// (containers are only created up to --count). Results: a table on stdout, JSON in
// bench/results/ps-<timestamp>.json (and ps-latest.json).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  shAsUser, shq, run, runTree, measure, median, stats, ratio, fmtMs, fmtRatio, verdict, printTable, writeResults,
  environment, parseArgs, which, USER_UID, BENCH_USER, userRun, engineCmd, removeStore, pullInto, loadavg, mapLimit,
} from './lib.mjs';

const TARGET_VS_PODMAN = 1.0;
const USAGE = 'usage: node bench/ps.mjs [--count N] [--runs N] [--warmup N] [--parallel N] [--image NAME] [--source REF]\n' +
  '                        [--no-podman] [--keep] [--base DIR] [--scratch DIR] [--quiet]';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    count: 1000,
    runs: 10,
    warmup: 1,
    parallel: 4,
    image: 'alpine:3.15',
    source: '127.0.0.1:5000/library/alpine:3.15',
    podman: true,
    noPodman: false,
    keep: false,
    base: '',
    scratch: `/var/tmp/tspod-bench-${USER_UID}`,
    quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/ps: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.noPodman) opts.podman = false;
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/ps] ${s}\n`);

async function countContainers(engine, dir) {
  const out = (await userRun(engineCmd(engine, dir, 'ps', '-aq'), { maxOutput: 1 << 24 })).stdout.trim();
  return out ? out.split('\n').length : 0;
}

/** Creates containers in the store until it holds opts.count; returns creation figures. */
async function populate(engine, dir) {
  if (!existsSync(`${dir}/root`)) {
    log(`${engine}: pulling ${opts.source} as ${opts.image}`);
    await pullInto(engine, dir, opts.source, opts.image);
  }
  const have = await countContainers(engine, dir);
  const todo = Math.max(0, opts.count - have);
  log(`${engine}: ${have} containers in the store, creating ${todo} (${opts.parallel} at a time; load ${loadavg()})`);
  const t0 = process.hrtime.bigint();
  let done = 0;
  const each = await mapLimit(Array.from({ length: todo }, (_, i) => i), opts.parallel, async () => {
    const r = await userRun(engineCmd(engine, dir, 'create', opts.image, 'true'));
    if (++done % 100 === 0 || done === todo) {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      log(`${engine}: created ${done}/${todo} in ${s.toFixed(1)} s (${(done / s).toFixed(1)}/s; load ${loadavg()})`);
    }
    return r.ms;
  });
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const n = await countContainers(engine, dir);
  if (n !== opts.count) throw new Error(`${engine}: ${n} containers in the store after creating, expected ${opts.count}`);
  return { created: todo, totalMs, perSecond: todo / (totalMs / 1000), each: stats(each) };
}

function psCase(name, engine, dir, args, header) {
  return {
    name,
    async run() {
      const r = await runTree(engineCmd(engine, dir, 'ps', '-a', ...args), { maxOutput: 1 << 26 });
      const lines = r.stdout.split('\n').filter(Boolean).length - (header ? 1 : 0);
      if (lines !== opts.count) throw new Error(`${name}: listed ${lines} containers, expected ${opts.count}`);
      return r;
    },
  };
}

async function main() {
  if (!which('tspod')) throw new Error('tspod not installed');
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = false;
  }
  const env = await environment();
  const base = opts.base || `${opts.scratch}/ps-${randomBytes(4).toString('hex')}`;
  const dirs = { tspod: `${base}/tspod`, ...(opts.podman ? { podman: `${base}/podman` } : {}) };
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${Object.values(dirs).map(shq).join(' ')}`));
  const loads = [loadavg()];
  const creation = {};
  const removal = {};
  const byName = {};
  let failed = false;
  try {
    for (const [engine, dir] of Object.entries(dirs)) {
      creation[engine] = await populate(engine, dir);
      loads.push(loadavg());
    }
    const cases = [];
    for (const [engine, dir] of Object.entries(dirs)) {
      cases.push(psCase(`${engine} ps -a`, engine, dir, [], true));
      cases.push(psCase(`${engine} ps -a --format {{.ID}}`, engine, dir, ['--format', '{{.ID}}'], false));
    }
    for (const c of cases) byName[c.name] = { name: c.name, samples: [], cpu: [], warmup: [] };
    for (const c of cases) {
      const m = await measure(c, { runs: 0, warmup: opts.warmup, log });
      byName[c.name].warmup.push(...m.warmup);
    }
    for (let i = 0; i < opts.runs; i++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(i + k) % cases.length];
        const m = await measure(c, { runs: 1, warmup: 0 });
        byName[c.name].samples.push(m.samples[0]);
        byName[c.name].cpu.push(...m.cpu);
        log(`${c.name} run ${i + 1}/${opts.runs}: ${fmtMs(m.samples[0])} (cpu ${fmtMs(m.cpu[0])})`);
      }
    }
    loads.push(loadavg());
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (opts.keep && !failed) {
      log(`--keep: stores left in ${base} (reuse with --base ${base})`);
    } else {
      for (const [engine, dir] of Object.entries(dirs)) {
        if (!existsSync(`${dir}/root`)) continue;
        const extra = engine === 'podman' ? ['-t', '0'] : [];
        const r = await userRun(engineCmd(engine, dir, 'rm', '-af', ...extra), { allowFail: true, maxOutput: 1 << 24 });
        removal[engine] = { ms: r.ms, code: r.code };
        log(`${engine} rm -af: ${fmtMs(r.ms)}${r.code ? ` (exit ${r.code}: ${r.stderr.trim().slice(-300)})` : ''}`);
        await removeStore(engine, dir, { containers: false, log });
      }
      await removeStore('tspod', base, { containers: false, log });
    }
  }

  env.loadavgEnd = loadavg();
  const results = Object.values(byName).map((m) => ({ ...m, ...stats(m.samples), cpuStats: stats(m.cpu) }));
  const get = (n) => results.find((r) => r.name === n);
  const ratios = {
    psA: ratio(get('tspod ps -a')?.median, get('podman ps -a')?.median),
    psFormatId: ratio(get('tspod ps -a --format {{.ID}}')?.median, get('podman ps -a --format {{.ID}}')?.median),
    cpuPsA: ratio(get('tspod ps -a')?.cpuStats.median, get('podman ps -a')?.cpuStats.median),
    cpuPsFormatId: ratio(get('tspod ps -a --format {{.ID}}')?.cpuStats.median, get('podman ps -a --format {{.ID}}')?.cpuStats.median),
  };

  process.stdout.write(`\ntspod ps benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'}, node ${env.node}; ` +
    `${opts.count} created containers (${opts.image} true) per store, ${opts.runs} runs + ${opts.warmup} warm-up, medians; user ${BENCH_USER}\n` +
    `load average: ${loads.join(' | ')} | end ${env.loadavgEnd}\n\n`);
  printTable(
    ['case', 'median', 'mean', 'min', 'max', 'cpu median'],
    results.map((r) => [r.name, fmtMs(r.median), fmtMs(r.mean), fmtMs(r.min), fmtMs(r.max), fmtMs(r.cpuStats.median)]),
  );
  if (opts.podman) {
    process.stdout.write(`\ntspod / podman, ps -a:                  ${verdict(ratios.psA, TARGET_VS_PODMAN)}  (cpu ${fmtRatio(ratios.cpuPsA)})\n`);
    process.stdout.write(`tspod / podman, ps -a --format {{.ID}}:  ${verdict(ratios.psFormatId, TARGET_VS_PODMAN)}  (cpu ${fmtRatio(ratios.cpuPsFormatId)})\n`);
  }
  process.stdout.write('\nsetup (information): create ' + Object.entries(creation).map(([e, c]) =>
    `${e} ${c.created} in ${fmtMs(c.totalMs)} (${c.perSecond.toFixed(1)}/s, median ${fmtMs(c.each.median)} each, ${opts.parallel} in parallel)`).join('; ') +
    (Object.keys(removal).length ? '; rm -af ' + Object.entries(removal).map(([e, r]) => `${e} ${fmtMs(r.ms)}`).join(', ') : '') + '\n');
  const file = writeResults('ps', {
    benchmark: 'ps',
    env: { ...env, loadavgSamples: loads },
    options: opts,
    targets: { tspodVsPodman: TARGET_VS_PODMAN },
    ratios,
    creation,
    removal,
    results,
  });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/ps] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
