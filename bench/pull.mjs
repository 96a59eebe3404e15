#!/usr/bin/env node
// Pull benchmark: tspod pull vs podman pull vs the "floor" (curl | tar -xz of the same blobs), as
// the unprivileged test user, from the loopback registry, each run into a fresh empty store.
//
//   node bench/pull.mjs [--runs 5] [--warmup 1] [--images bench/debian:minbase,bench/layers5:latest]
//                       [--registry 127.0.0.1:5000] [--floor concurrent|sequential]
//                       [--no-podman] [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Run as root (commands go through runuser to the test user, BENCH_USER, default tspodtest) or as
// the test user. Images come from bench/setup.sh. Results: a table on stdout, JSON in
// bench/results/pull-<timestamp>.json (and pull-latest.json).
//
// What one sample is (wall clock, spawn to exit, of one command started by this script):
//   tspod   tspod  --root R --runroot RR pull -q IMAGE                       (store: overlay)
//   podman  podman --storage-driver overlay --root R --runroot RR pull -q IMAGE   (native overlay)
//   floor   tspod unshare bash -c '(curl -s BLOB1 | tar -xz -C D/1) & (curl ... D/2) & wait'
//           i.e. the same user namespace entry a real rootless pull needs, then for every layer
//           the raw download + gunzip + file creation with chown to mapped ids; layers run
//           concurrently (--floor sequential: one after the other). No digest verification,
//           no metadata, no commit.
// R/RR/D are fresh directories under the scratch dir; removing them (with `tspod unshare rm -rf`
// / `podman unshare rm -rf`) is not timed. Page caches are not dropped: one warm-up run of each
// case is discarded and medians are reported. The order of the three cases rotates each run.
import { randomBytes } from 'node:crypto';
import {
  asUser, shAsUser, shq, run, runTimed, measure, median, stats, ratio, fmtMs, fmtRatio, verdict, printTable,
  writeResults, environment, parseArgs, which, USER_UID, BENCH_USER,
} from './lib.mjs';

const TARGET_VS_PODMAN = 0.7;
const TARGET_VS_FLOOR = 1.25;

const USAGE = 'usage: node bench/pull.mjs [--runs N] [--warmup N] [--images REPO:TAG,...] [--registry HOST:PORT]\n' +
  '                          [--floor concurrent|sequential] [--no-podman] [--scratch DIR] [--quiet]';
const opts = parseArgsOrExit({
  runs: 5,
  warmup: 1,
  images: 'bench/debian:minbase,bench/layers5:latest',
  registry: '127.0.0.1:5000',
  floor: 'concurrent',
  podman: true,
  noPodman: false,
  scratch: `/var/tmp/tspod-bench-${USER_UID}`,
  quiet: false,
});
function parseArgsOrExit(spec) {
  try {
    return parseArgs(process.argv.slice(2), spec);
  } catch (e) {
    process.stderr.write(`bench/pull: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
}
if (opts.noPodman) opts.podman = false;
if (!['concurrent', 'sequential'].includes(opts.floor)) {
  process.stderr.write(`bench/pull: --floor must be concurrent or sequential\n${USAGE}\n`);
  process.exit(2);
}
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/pull] ${s}\n`);

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Layer descriptors of repo:tag (linux/amd64 when it is an index). */
async function layersOf(repo, tag) {
  const base = `http://${opts.registry}/v2/${repo}/manifests/`;
  let res = await fetch(base + tag, { headers: { accept: MANIFEST_ACCEPT } });
  if (!res.ok) throw new Error(`${opts.registry}/${repo}:${tag}: ${res.status} (run bench/setup.sh as root first)`);
  let m = await res.json();
  if (m.manifests) {
    const d = m.manifests.find((x) => x.platform?.os === 'linux' && x.platform?.architecture === 'amd64');
    if (!d) throw new Error(`${repo}:${tag}: no linux/amd64 manifest`);
    res = await fetch(base + d.digest, { headers: { accept: MANIFEST_ACCEPT } });
    m = await res.json();
  }
  return m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
}

const scratchDir = (tag) => `${opts.scratch}/${tag}-${randomBytes(4).toString('hex')}`;
const userRun = (argv, o) => run(asUser(argv), o);

async function mkUserDir(dir) {
  await userRun(['mkdir', '-p', dir]);
}

// Files in the stores are owned by subordinate ids: remove them from inside the user namespace.
async function rmTspod(dir) {
  await userRun(['tspod', 'unshare', 'rm', '-rf', dir]);
}
async function rmPodman(dir) {
  await userRun(['podman', 'unshare', 'rm', '-rf', dir]);
}

function tspodCase(ref) {
  return {
    name: 'tspod',
    async prepare() {
      const d = scratchDir('tspod');
      await mkUserDir(d);
      return d;
    },
    async run(d) {
      const r = await runTimed(asUser(['tspod', '--root', `${d}/root`, '--runroot', `${d}/run`, 'pull', '-q', ref]));
      // untimed sanity check: the image is in the store
      await userRun(['tspod', '--root', `${d}/root`, '--runroot', `${d}/run`, 'image', 'exists', ref]);
      return r;
    },
    cleanup: rmTspod,
  };
}

function podmanCase(ref) {
  return {
    name: 'podman',
    async prepare() {
      const d = scratchDir('podman');
      await mkUserDir(d);
      return d;
    },
    async run(d) {
      const g = ['--storage-driver', 'overlay', '--root', `${d}/root`, '--runroot', `${d}/run`];
      const r = await runTimed(asUser(['podman', ...g, 'pull', '-q', ref]));
      await userRun(['podman', ...g, 'image', 'exists', ref]);
      return r;
    },
    cleanup: rmPodman,
  };
}

function floorScript(repo, layers, dir) {
  const job = (l, i) =>
    `mkdir ${shq(`${dir}/${i}`)} && curl -sfS ${shq(`http://${opts.registry}/v2/${repo}/blobs/${l.digest}`)} | tar -xzf - -C ${shq(`${dir}/${i}`)}`;
  if (opts.floor === 'sequential' || layers.length === 1) {
    return `set -e -o pipefail\n${layers.map(job).join('\n')}\n`;
  }
  return [
    'set -o pipefail',
    'pids=',
    ...layers.map((l, i) => `( ${job(l, i)} ) & pids="$pids $!"`),
    'rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc',
    '',
  ].join('\n');
}

function floorCase(repo, layers) {
  return {
    name: 'floor',
    async prepare() {
      const d = scratchDir('floor');
      await mkUserDir(d);
      return d;
    },
    async run(d) {
      return runTimed(asUser(['tspod', 'unshare', 'bash', '-c', floorScript(repo, layers, d)]));
    },
    cleanup: rmTspod,
  };
}

async function main() {
  for (const cmd of ['tspod', 'curl', 'tar']) if (!which(cmd)) throw new Error(`${cmd} not installed`);
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = false;
  }
  const env = await environment();
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)}`));
  if (opts.podman) {
    const info = await userRun(['podman', '--storage-driver', 'overlay', '--root', `${opts.scratch}/probe/root`,
      '--runroot', `${opts.scratch}/probe/run`, 'info', '--format', '{{.Store.GraphDriverName}} {{json .Store.GraphOptions}} {{json .Store.GraphStatus}}']);
    env.podmanStore = info.stdout.trim();
    await rmPodman(`${opts.scratch}/probe`);
    if (!/^overlay /.test(env.podmanStore) || /mount_program/.test(env.podmanStore)) {
      log(`WARNING: podman is not using native overlay: ${env.podmanStore}`);
    }
  }
  // cost of entering the user namespace with tspod (part of the floor)
  const unshareTrue = await measure({ name: 'tspod unshare true', run: async () => (await userRun(['tspod', 'unshare', 'true'])).ms },
    { runs: opts.runs, warmup: 1 });
  log(`tspod unshare true: median ${fmtMs(median(unshareTrue.samples))}`);

  const results = [];
  for (const image of opts.images.split(',').filter(Boolean)) {
    const [repo, tag = 'latest'] = image.split(/:(?=[^:/]*$)/);
    const ref = `${opts.registry}/${repo}:${tag}`;
    const layers = await layersOf(repo, tag);
    const gz = layers.reduce((n, l) => n + l.size, 0);
    log(`${ref}: ${layers.length} layer(s), ${(gz / 1e6).toFixed(1)} MB gzip`);
    const cases = [tspodCase(ref), ...(opts.podman ? [podmanCase(ref)] : []), floorCase(repo, layers)];
    const byName = Object.fromEntries(cases.map((c) => [c.name, { name: c.name, samples: [], cpu: [], warmup: [] }]));
    // warm-up, then the runs, rotating the order of the cases so slow drifts hit all of them
    for (const c of cases) {
      const m = await measure(c, { runs: 0, warmup: opts.warmup, log: (s) => log(`${image} ${s}`) });
      byName[c.name].warmup.push(...m.warmup);
    }
    for (let i = 0; i < opts.runs; i++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(i + k) % cases.length];
        const m = await measure(c, { runs: 1, warmup: 0 });
        byName[c.name].samples.push(m.samples[0]);
        byName[c.name].cpu.push(...m.cpu);
        log(`${image} ${c.name} run ${i + 1}/${opts.runs}: ${fmtMs(m.samples[0])} (cpu ${fmtMs(m.cpu[0])})`);
      }
    }
    const med = (n) => (byName[n] ? median(byName[n].samples) : NaN);
    const cpuMed = (n) => (byName[n] ? median(byName[n].cpu) : NaN);
    results.push({
      image: ref,
      layers: layers.length,
      compressedBytes: gz,
      floorMode: layers.length > 1 ? opts.floor : 'single',
      cases: Object.fromEntries(Object.values(byName).map((m) => [m.name, {
        ...stats(m.samples), samples: m.samples, warmup: m.warmup, cpu: { ...stats(m.cpu), samples: m.cpu },
      }])),
      ratios: { tspodVsPodman: ratio(med('tspod'), med('podman')), tspodVsFloor: ratio(med('tspod'), med('floor')) },
      cpuRatios: {
        tspodVsPodman: ratio(cpuMed('tspod'), cpuMed('podman')),
        tspodVsFloor: ratio(cpuMed('tspod'), cpuMed('floor')),
      },
    });
  }

  env.loadavgEnd = (await run(['cat', '/proc/loadavg'])).stdout.trim();
  process.stdout.write(`\ntspod pull benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'}, node ${env.node}; ` +
    `${opts.runs} runs + ${opts.warmup} warm-up, medians; user ${BENCH_USER}; floor layers ${opts.floor}\n` +
    `load average at start: ${env.loadavg.split(' ').slice(0, 3).join(' ')}, at end: ${env.loadavgEnd.split(' ').slice(0, 3).join(' ')}\n\n`);
  printTable(
    ['image', 'layers', 'gzip MB', 'tspod', 'podman', 'floor', 'tspod/podman', 'tspod/floor'],
    results.map((r) => [
      r.image.replace(`${opts.registry}/`, ''),
      String(r.layers),
      (r.compressedBytes / 1e6).toFixed(1),
      fmtMs(r.cases.tspod.median),
      fmtMs(r.cases.podman?.median),
      fmtMs(r.cases.floor.median),
      verdict(r.ratios.tspodVsPodman, TARGET_VS_PODMAN),
      verdict(r.ratios.tspodVsFloor, TARGET_VS_FLOOR),
    ]),
  );
  process.stdout.write('\nCPU time (user+sys of the whole process tree, medians; less sensitive to other load):\n');
  printTable(
    ['image', 'tspod cpu', 'podman cpu', 'floor cpu', 'tspod/podman', 'tspod/floor'],
    results.map((r) => [
      r.image.replace(`${opts.registry}/`, ''),
      fmtMs(r.cases.tspod.cpu.median),
      fmtMs(r.cases.podman?.cpu.median),
      fmtMs(r.cases.floor.cpu.median),
      fmtRatio(r.cpuRatios.tspodVsPodman),
      fmtRatio(r.cpuRatios.tspodVsFloor),
    ]),
  );
  process.stdout.write(`\n(floor includes entering the user namespace: \`tspod unshare true\` median ${fmtMs(median(unshareTrue.samples))})\n`);
  const file = writeResults('pull', {
    benchmark: 'pull',
    env,
    options: opts,
    targets: { tspodVsPodman: TARGET_VS_PODMAN, tspodVsFloor: TARGET_VS_FLOOR },
    unshareTrue: { ...stats(unshareTrue.samples), samples: unshareTrue.samples },
    results,
  });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/pull] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
