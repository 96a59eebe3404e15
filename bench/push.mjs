#!/usr/bin/env node
// Push benchmark: `tspod push` vs `podman push` of bench/debian:minbase (from bench/setup.sh; falls
// back to library/layers:latest from the fixtures when it is missing) to the loopback registry, as
// the unprivileged test user, each engine with its own throwaway store holding the image.
//
//   node bench/push.mjs [--runs 3] [--image bench/debian:minbase] [--registry 127.0.0.1:5000]
//                       [--mode all] [--copy-registry 127.0.0.1:5003] [--creds tspoduser:tspodpass]
//                       [--no-podman] [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Setup (untimed): `pull -q REGISTRY/IMAGE` into each store. Every sample pushes to a repository
// name never used before (bench-push/<engine>-<random>), so no blob is skipped as already there.
// Three modes (--mode mount|copy|upload|all, default all; `both` = mount,upload):
//   mount:  push IMAGE itself (as pulled) to a new repository of the same registry. Both engines
//           know its blobs came from this registry and mount them from the source repository
//           (cross-repository blob mount): nothing is uploaded, the sample is the push protocol
//           (HEAD/POST mount per blob, config, manifest).
//   copy:   push IMAGE itself (as pulled) to a new repository of ANOTHER registry (--copy-registry,
//           basic auth with --creds), where nothing can be mounted: every blob is uploaded. tspod
//           uploads the blob it kept at pull; podman recompresses the layer.
//           The sample also records whether the pushed manifest digest equals the source's.
//   upload: push an image no registry has seen: before each sample (untimed) the engine builds
//           `FROM IMAGE` + `RUN head -c 32 /dev/urandom > /stamp` with --no-cache --squash-all and a local
//           name, so its one layer is new: the push archives, compresses and uploads it in full.
// One sample = wall clock (spawn to exit) of `push --tls-verify=false`; CPU time of the waited tree
// (/usr/bin/time) too. In run i the engines go in an order rotated by i.
// Results: a table on stdout, JSON in bench/results/push-<timestamp>.json (and push-latest.json).
import { randomBytes } from 'node:crypto';
import {
  shAsUser, shq, run, runTimed, stats, ratio, fmtMs, fmtRatio, verdict, printTable,
  writeResults, environment, parseArgs, which, USER_UID, BENCH_USER, engineCmd, removeStore, pullInto, loadavg, asUser,
} from './lib.mjs';

const TARGET_VS_PODMAN = 0.8;
const USAGE = 'usage: node bench/push.mjs [--runs N] [--image REPO:TAG] [--registry HOST:PORT] [--mode mount|copy|upload|both|all] [--copy-registry HOST:PORT] [--creds USER:PASS] [--no-podman] [--scratch DIR] [--quiet]';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    runs: 3,
    image: 'bench/debian:minbase',
    registry: '127.0.0.1:5000',
    mode: 'all',
    copyRegistry: '127.0.0.1:5003',
    creds: 'tspoduser:tspodpass',
    podman: true,
    noPodman: false,
    scratch: `/var/tmp/tspod-bench-${USER_UID}`,
    quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/push: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.noPodman) opts.podman = false;
if (!['mount', 'copy', 'upload', 'both', 'all'].includes(opts.mode)) {
  process.stderr.write(`bench/push: --mode must be mount, copy, upload, both or all\n${USAGE}\n`);
  process.exit(2);
}
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/push] ${s}\n`);

async function exists(ref) {
  const [repo, tag] = ref.split(':');
  const r = await run(['curl', '-sf', '-o', '/dev/null', '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
    `http://${opts.registry}/v2/${repo}/manifests/${tag ?? 'latest'}`], { allowFail: true });
  return r.code === 0;
}

async function main() {
  if (!which('tspod')) throw new Error('tspod not installed');
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = false;
  }
  if (!(await exists(opts.image))) {
    log(`${opts.image} is not in ${opts.registry} (run bench/setup.sh): using library/layers:latest`);
    opts.image = 'library/layers:latest';
  }
  const env = await environment();
  const source = `${opts.registry}/${opts.image}`;
  const base = `${opts.scratch}/p-${randomBytes(4).toString('hex')}`;
  const engines = ['tspod', ...(opts.podman ? ['podman'] : [])];
  const modes = opts.mode === 'all' ? ['mount', 'copy', 'upload'] : opts.mode === 'both' ? ['mount', 'upload'] : [opts.mode];
  const sourceDigest = (await run(['skopeo', 'inspect', '--raw', '--tls-verify=false', `docker://${source}`]).then((r) => r.stdout)).trim();
  const digestEqual = {};
  const names = [];
  for (const m of modes) for (const e of engines) names.push(`${e} (${m})`);
  const byName = Object.fromEntries(names.map((n) => [n, { name: n, samples: [], cpu: [] }]));
  const loads = [loadavg()];
  const ctxDir = `${base}/ctx`;
  try {
    await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${engines.map((e) => shq(`${base}/${e}`)).join(' ')} ${shq(ctxDir)} && ` +
      `printf %s ${shq(`FROM ${source}\nRUN head -c 32 /dev/urandom > /stamp\n`)} > ${shq(`${ctxDir}/Containerfile`)}`));
    for (const e of engines) {
      log(`pulling ${source} into the ${e} store`);
      await pullInto(e, `${base}/${e}`, source);
    }
    for (const mode of modes) {
      for (let i = 0; i < opts.runs; i++) {
        for (let k = 0; k < engines.length; k++) {
          const e = engines[(i + k) % engines.length];
          const dir = `${base}/${e}`;
          let image = source;
          if (mode === 'upload') {
            image = `localhost/bench-push-src:${i}`;
            // --no-cache: a new layer every sample (a cached step would give the layer that the
            // previous sample already pushed, which tspod keeps the blob of).
            await run(asUser(engineCmd(e, dir, 'build', '-q', '--no-cache', '--squash-all', '-t', image, ctxDir))); // not timed
          }
          const registry = mode === 'copy' ? opts.copyRegistry : opts.registry;
          const creds = mode === 'copy' ? ['--creds', opts.creds] : [];
          const dest = `${registry}/bench-push/${e}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}:latest`;
          const r = await runTimed(asUser(engineCmd(e, dir, 'push', '-q', '--tls-verify=false', ...creds, image, `docker://${dest}`)));
          if (r.code !== 0) throw new Error(`${e} push: exit ${r.code}: ${r.stderr.trim().slice(-500)}`);
          byName[`${e} (${mode})`].samples.push(r.ms);
          byName[`${e} (${mode})`].cpu.push(r.cpuMs);
          let same = '';
          if (mode !== 'upload') {
            const m = await run(['skopeo', 'inspect', '--raw', '--tls-verify=false', ...(mode === 'copy' ? ['--creds', opts.creds] : []), `docker://${dest}`]);
            same = m.stdout.trim() === sourceDigest ? 'same manifest' : 'NEW manifest';
            (digestEqual[`${e} (${mode})`] ??= []).push(same === 'same manifest');
          }
          log(`${e} ${mode} run ${i + 1}/${opts.runs}: ${fmtMs(r.ms)} (cpu ${fmtMs(r.cpuMs)})${same ? `, ${same}` : ''}`);
        }
        loads.push(loadavg());
      }
    }
  } finally {
    for (const e of engines) await removeStore(e, `${base}/${e}`, { log });
    await removeStore('tspod', base, { containers: false, log });
  }
  env.loadavgEnd = loadavg();
  const results = Object.values(byName).map((m) => ({ ...m, ...stats(m.samples), cpuStats: stats(m.cpu) }));
  const get = (n) => results.find((r) => r.name === n);
  const ratios = {};
  for (const m of modes) {
    ratios[m] = ratio(get(`tspod (${m})`).median, get(`podman (${m})`)?.median);
    ratios[`cpu_${m}`] = ratio(get(`tspod (${m})`).cpuStats.median, get(`podman (${m})`)?.cpuStats.median);
  }
  process.stdout.write(`\ntspod push benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'}, node ${env.node}; ` +
    `push ${opts.image} to ${opts.registry} (new repository each run), ${opts.runs} runs, medians; user ${BENCH_USER}\n` +
    `load average: ${loads.join(' | ')} | end ${env.loadavgEnd}\n\n`);
  printTable(
    ['case', 'median', 'mean', 'min', 'max', 'cpu (tree)', 'tspod / podman (wall)', 'tspod / podman (cpu)'],
    results.map((r) => {
      const m = r.name.replace(/^.*\((.*)\)$/, '$1');
      const p = get(`podman (${m})`);
      const t = r.name.startsWith('tspod');
      return [r.name, fmtMs(r.median), fmtMs(r.mean), fmtMs(r.min), fmtMs(r.max), fmtMs(r.cpuStats.median),
        t ? fmtRatio(ratio(r.median, p?.median)) : '', t ? fmtRatio(ratio(r.cpuStats.median, p?.cpuStats.median)) : ''];
    }),
  );
  if (opts.podman) for (const m of modes) process.stdout.write(`\ntspod / podman (${m}): ${verdict(ratios[m], TARGET_VS_PODMAN)}`);
  for (const [k, v] of Object.entries(digestEqual)) process.stdout.write(`\n${k}: pushed manifest = source manifest in ${v.filter(Boolean).length}/${v.length} runs`);
  process.stdout.write('\n');
  const file = writeResults('push', { benchmark: 'push', env: { ...env, loadavgSamples: loads }, options: opts, targets: { tspodVsPodman: TARGET_VS_PODMAN }, ratios, digestEqual, results });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/push] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
