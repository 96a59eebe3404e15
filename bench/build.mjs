#!/usr/bin/env node
// Build benchmark: `tspod build` vs `podman build` of a five-step Containerfile over alpine:3.15
// (RUN, COPY, ENV, RUN, CMD), as the unprivileged test user, each engine with throwaway stores.
//
//   node bench/build.mjs [--runs 5] [--image alpine:3.15]
//                        [--source 127.0.0.1:5000/library/alpine:3.15] [--no-podman]
//                        [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Two cases per engine:
//   cold:   a fresh store holding only the base image (pulled and tagged beforehand, not timed),
//           then `build -t bench-build CONTEXT`: every step runs.
//   cached: `build -t bench-build CONTEXT` again in a store where it was just built: every step
//           comes from the layer cache.
// One sample = wall clock (spawn to exit) of the build command, CPU time (user+sys of the waited
// tree, /usr/bin/time) recorded too. In run i the engines go in an order rotated by i.
// Results: a table on stdout, JSON in bench/results/build-<timestamp>.json (and build-latest.json).
import { randomBytes } from 'node:crypto';
import {
  shAsUser, shq, run, runTimed, stats, ratio, fmtMs, fmtRatio, verdict, printTable,
  writeResults, environment, parseArgs, which, USER_UID, BENCH_USER, userRun, engineCmd, removeStore, pullInto, loadavg, asUser,
} from './lib.mjs';

const TARGET_VS_PODMAN = 0.8;
const USAGE = 'usage: node bench/build.mjs [--runs N] [--image NAME] [--source REF] [--no-podman] [--scratch DIR] [--quiet]';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    runs: 5,
    image: 'alpine:3.15',
    source: '127.0.0.1:5000/library/alpine:3.15',
    podman: true,
    noPodman: false,
    scratch: `/var/tmp/tspod-bench-${USER_UID}`,
    quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/build: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.noPodman) opts.podman = false;
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/build] ${s}\n`);

const containerfile = (image) => [
  `FROM ${image}`,
  'RUN echo built > /built && mkdir -p /app',
  'COPY f.txt /app/',
  'ENV GREETING=hello',
  'RUN cat /built /app/f.txt > /app/both',
  'CMD ["cat", "/app/both"]',
  '',
].join('\n');

async function main() {
  if (!which('tspod')) throw new Error('tspod not installed');
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = false;
  }
  const env = await environment();
  const base = `${opts.scratch}/b-${randomBytes(4).toString('hex')}`;
  const ctxDir = `${base}/context`;
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${shq(ctxDir)} && ` +
    `printf %s ${shq(containerfile(opts.image))} > ${shq(`${ctxDir}/Containerfile`)} && echo payload > ${shq(`${ctxDir}/f.txt`)}`));
  const engines = ['tspod', ...(opts.podman ? ['podman'] : [])];
  const names = [];
  for (const e of engines) for (const k of ['cold', 'cached']) names.push(`${e} ${k}`);
  const byName = Object.fromEntries(names.map((n) => [n, { name: n, samples: [], cpu: [] }]));
  const loads = [loadavg()];
  const stores = [];
  const build = (engine, dir) => asUser(engineCmd(engine, dir, 'build', '-q', '-t', 'bench-build', ctxDir));
  try {
    for (let i = 0; i < opts.runs; i++) {
      for (let k = 0; k < engines.length; k++) {
        const engine = engines[(i + k) % engines.length];
        const dir = `${base}/${engine[0]}${i}`; // podman: runroot at most 50 characters
        stores.push([engine, dir]);
        await run(shAsUser(`mkdir -p ${shq(dir)}`));
        await pullInto(engine, dir, opts.source, opts.image); // not timed
        const cold = await runTimed(build(engine, dir));
        const cached = await runTimed(build(engine, dir));
        if (cold.stdout.trim() !== cached.stdout.trim()) log(`WARNING: ${engine}: the cached rebuild gave another image ID`);
        byName[`${engine} cold`].samples.push(cold.ms);
        byName[`${engine} cold`].cpu.push(cold.cpuMs);
        byName[`${engine} cached`].samples.push(cached.ms);
        byName[`${engine} cached`].cpu.push(cached.cpuMs);
        log(`${engine} run ${i + 1}/${opts.runs}: cold ${fmtMs(cold.ms)} (cpu ${fmtMs(cold.cpuMs)}), cached ${fmtMs(cached.ms)} (cpu ${fmtMs(cached.cpuMs)})`);
        await removeStore(engine, dir, { log });
      }
      loads.push(loadavg());
    }
    if (opts.podman) {
      const d = `${base}/pi`;
      env.podmanStore = (await userRun(engineCmd('podman', d, 'info', '--format', '{{.Store.GraphDriverName}} runtime={{.Host.OCIRuntime.Name}}'))).stdout.trim();
      await removeStore('podman', d, { log });
    }
  } finally {
    for (const [engine, dir] of stores) await removeStore(engine, dir, { log });
    await removeStore('tspod', base, { containers: false, log });
  }
  env.loadavgEnd = loadavg();
  const results = Object.values(byName).map((m) => ({ ...m, ...stats(m.samples), cpuStats: stats(m.cpu) }));
  const get = (n) => results.find((r) => r.name === n);
  const ratios = {
    cold: ratio(get('tspod cold').median, get('podman cold')?.median),
    cached: ratio(get('tspod cached').median, get('podman cached')?.median),
    cpuCold: ratio(get('tspod cold').cpuStats.median, get('podman cold')?.cpuStats.median),
    cpuCached: ratio(get('tspod cached').cpuStats.median, get('podman cached')?.cpuStats.median),
  };
  process.stdout.write(`\ntspod build benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'} (${env.podmanStore ?? '-'}), node ${env.node}; ` +
    `5-step Containerfile over ${opts.image}, ${opts.runs} runs, medians; user ${BENCH_USER}\n` +
    `load average: ${loads.join(' | ')} | end ${env.loadavgEnd}\n\n`);
  printTable(
    ['case', 'median', 'mean', 'min', 'max', 'cpu (tree)', 'tspod / podman (wall)', 'tspod / podman (cpu)'],
    results.map((r) => {
      const kind = r.name.split(' ')[1];
      const p = get(`podman ${kind}`);
      return [r.name, fmtMs(r.median), fmtMs(r.mean), fmtMs(r.min), fmtMs(r.max), fmtMs(r.cpuStats.median),
        r.name.startsWith('tspod') ? fmtRatio(ratio(r.median, p?.median)) : '', r.name.startsWith('tspod') ? fmtRatio(ratio(r.cpuStats.median, p?.cpuStats.median)) : ''];
    }),
  );
  if (opts.podman) {
    process.stdout.write(`\ncold build, tspod / podman: ${verdict(ratios.cold, TARGET_VS_PODMAN)}\n`);
    process.stdout.write(`cached rebuild, tspod / podman: ${verdict(ratios.cached, TARGET_VS_PODMAN)}\n`);
  }
  const file = writeResults('build', { benchmark: 'build', env: { ...env, loadavgSamples: loads }, options: opts, targets: { cold: TARGET_VS_PODMAN, cached: TARGET_VS_PODMAN }, ratios, results });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/build] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
