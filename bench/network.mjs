#!/usr/bin/env node
// Network benchmark, as the unprivileged test user, each engine with its own throwaway store:
//
//  1. setup cost: `run --rm IMAGE true` with the default rootless network (slirp4netns) and with
//     `--network none`, for tspod and podman; an engine's network cost = median(default) - median(none).
//  2. TCP throughput (MB/s = 10^6 bytes/s, medians), every connection on 127.0.0.0/8 on the host side:
//     - host -> container through a published port: container `nc -l -p 5001 > /dev/null`, published
//       as `-p 127.0.0.1:HP:5001`; timed: `dd if=/dev/zero bs=1M count=N | nc -N 127.0.0.1 HP` on the
//       host (spawn to exit; nc -N exits when the container's nc closed after EOF);
//     - container -> host, container connects out (slirp4netns only, `allow_host_loopback=true`): a
//       receiver on the host bound to 127.0.0.1:P (in this process, timed from accept to EOF, bytes
//       counted), and `exec CTR sh -c 'dd ... | nc 10.0.2.2 P'` in a running container;
//     - container -> host through a published port (every mode, pasta included): the container sends
//       (`dd ... | nc -l -p 5001`), the host connects to 127.0.0.1:HP and reads (timed from connect to
//       EOF, bytes counted). pasta cannot take the connect-out case here: tspod always passes
//       `-T none`, which pasta 2023-03 refuses together with a `-T PORT` from the user, and its
//       `--map-gw` only maps the gateway to the host's loopback for connections the host opened first,
//       so a container connecting to the gateway would leave the host (not allowed on this test host).
//     podman 4.3.1 has no pasta (4.4+): pasta is tspod only. podman publishes ports through its
//     rootlessport proxy by default, tspod through tspod-portfwd (the same shape: host listeners,
//     connections made in the container's netns); podman's `slirp4netns:port_handler=slirp4netns`
//     (slirp4netns's own forwarding) is measured too, for context.
//
//   node bench/network.mjs [--runs 20] [--warmup 2] [--xfer-runs 5] [--mib 512] [--image alpine:3.15]
//                          [--source 127.0.0.1:5000/library/alpine:3.15] [--no-podman] [--no-pasta]
//                          [--no-setup] [--no-xfer] [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Before every timed transfer the container's listener is checked to be up (`exec CTR cat
// /proc/net/tcp /proc/net/tcp6`, untimed), so that no sample is a connection refused by a not-yet-listening nc.
// Results: tables on stdout, JSON in bench/results/network-<timestamp>.json (and network-latest.json).
import { randomBytes } from 'node:crypto';
import {
  shAsUser, shq, run, runTree, median, stats, ratio, fmtMs, fmtRatio, printTable, writeResults, environment,
  parseArgs, which, USER_UID, BENCH_USER, userRun, engineCmd, removeStore, pullInto, loadavg,
  freePort, tcpReceiveServer, tcpReceive,
} from './lib.mjs';

const USAGE = 'usage: node bench/network.mjs [--runs N] [--warmup N] [--xfer-runs N] [--mib N] [--image NAME] [--source REF]\n' +
  '                             [--no-podman] [--no-pasta] [--no-setup] [--no-xfer] [--scratch DIR] [--quiet]';
const CPORT = 5001;
const SLIRP_LOOPBACK = 'slirp4netns:allow_host_loopback=true';
// podman's published ports go through its rootlessport proxy by default (a Go process on the host
// plus a child in the container's netns: the data does not cross slirp4netns), tspod's through
// tspod-portfwd (same shape, in C with splice); this podman case forwards them through slirp4netns
// itself (context, not the target)
const PODMAN_SLIRP_FWD = 'slirp4netns:port_handler=slirp4netns';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    runs: 20, warmup: 2, xferRuns: 5, mib: 512,
    image: 'alpine:3.15', source: '127.0.0.1:5000/library/alpine:3.15',
    noPodman: false, noPasta: false, noSetup: false, noXfer: false,
    scratch: `/var/tmp/tspod-bench-${USER_UID}`, quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/network: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/network] ${s}\n`);
const BYTES = opts.mib * 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// 1. setup cost

async function setupCost(dirs, loads) {
  const cases = [];
  for (const engine of Object.keys(dirs)) {
    cases.push({ name: `${engine} default`, engine, net: [] });
    cases.push({ name: `${engine} --network none`, engine, net: ['--network', 'none'] });
  }
  const res = Object.fromEntries(cases.map((c) => [c.name, { name: c.name, engine: c.engine, samples: [], cpu: [], allMs: [], warmup: [] }]));
  const one = async (c) => {
    const r = await runTree(engineCmd(c.engine, dirs[c.engine], 'run', '--rm', ...c.net, opts.image, 'true'));
    if (r.orphansLeft) log(`WARNING: ${c.name}: a descendant still ran 30 s after the command exited`);
    return r;
  };
  for (const c of cases) for (let i = 0; i < opts.warmup; i++) res[c.name].warmup.push((await one(c)).ms);
  for (let i = 0; i < opts.runs; i++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(i + k) % cases.length];
      const r = await one(c);
      Object.assign(res[c.name], { samples: [...res[c.name].samples, r.ms], cpu: [...res[c.name].cpu, r.cpuMs], allMs: [...res[c.name].allMs, r.allMs] });
      log(`setup ${c.name} ${i + 1}/${opts.runs}: ${fmtMs(r.ms)} (cpu ${fmtMs(r.cpuMs)})`);
    }
    if (i % 5 === 4) loads.push(loadavg());
  }
  return Object.values(res).map((m) => ({ ...m, ...stats(m.samples), cpuStats: stats(m.cpu), allDone: stats(m.allMs) }));
}

// ------------------------------------------------------------------------------------------------
// 2. throughput

/** Waits until the container's /proc/net/tcp shows a listener on CPORT (untimed). */
async function waitListening(engine, dir, name) {
  // a line of /proc/net/tcp{,6}: "sl local_address rem_address st ...", listening = st 0A
  const port = `:${CPORT.toString(16).toUpperCase().padStart(4, '0')}`;
  const listening = (out) => out.split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(port) && f[3] === '0A';
  });
  for (let i = 0; i < 100; i++) {
    const r = await userRun(engineCmd(engine, dir, 'exec', name, 'cat', '/proc/net/tcp', '/proc/net/tcp6'), { allowFail: true });
    if (listening(r.stdout)) return;
    await sleep(50);
  }
  throw new Error(`${engine}: ${name}: nothing listens on ${CPORT}`);
}

async function rmCtr(engine, dir, name) {
  const r = await userRun(engineCmd(engine, dir, 'rm', '-f', ...(engine === 'podman' ? ['-t', '0'] : []), name), { allowFail: true });
  if (r.code !== 0) log(`WARNING: ${engine} rm -f ${name}: ${r.stderr.trim().slice(-300)}`);
}

const dd = `dd if=/dev/zero bs=1M count=${opts.mib} 2>/dev/null`;

/** host -> container through a published port; returns { ms, bytes }. */
async function hostToCtr(engine, dir, net) {
  const name = `netb-${randomBytes(4).toString('hex')}`;
  const hp = await freePort();
  await userRun(engineCmd(engine, dir, 'run', '-d', '--name', name, '--network', net, '-p', `127.0.0.1:${hp}:${CPORT}`,
    opts.image, 'sh', '-c', `nc -l -p ${CPORT} > /dev/null`));
  try {
    await waitListening(engine, dir, name);
    const r = await run(shAsUser(`${dd} | nc -N 127.0.0.1 ${hp}`));
    const st = (await userRun(engineCmd(engine, dir, 'wait', name))).stdout.trim();
    if (st !== '0') throw new Error(`${engine} ${net}: receiver exited ${st}`);
    return { ms: r.ms, bytes: BYTES };
  } finally {
    await rmCtr(engine, dir, name);
  }
}

/** container -> host through a published port (the host connects and reads); returns { ms, bytes }. */
async function ctrToHostPublished(engine, dir, net) {
  const name = `netb-${randomBytes(4).toString('hex')}`;
  const hp = await freePort();
  await userRun(engineCmd(engine, dir, 'run', '-d', '--name', name, '--network', net, '-p', `127.0.0.1:${hp}:${CPORT}`,
    opts.image, 'sh', '-c', `${dd} | nc -l -p ${CPORT}`));
  try {
    await waitListening(engine, dir, name);
    return await tcpReceive('127.0.0.1', hp);
  } finally {
    await rmCtr(engine, dir, name);
  }
}

/** container -> host, the container connects to the host's loopback (slirp4netns 10.0.2.2). */
async function ctrToHostConnect(engine, dir, name) {
  const srv = await tcpReceiveServer('127.0.0.1');
  try {
    const done = srv.next();
    await userRun(engineCmd(engine, dir, 'exec', name, 'sh', '-c', `${dd} | nc 10.0.2.2 ${srv.port}`));
    return await done;
  } finally {
    srv.close();
  }
}

async function throughput(dirs, pasta, loads) {
  const cases = [];
  const engines = Object.keys(dirs);
  for (const engine of engines) cases.push({ dir: 'host -> container (published port)', mode: 'slirp4netns', engine, fn: () => hostToCtr(engine, dirs[engine], 'slirp4netns') });
  if (dirs.podman) cases.push({ dir: 'host -> container (published port)', mode: PODMAN_SLIRP_FWD, engine: 'podman', fn: () => hostToCtr('podman', dirs.podman, PODMAN_SLIRP_FWD) });
  if (pasta) cases.push({ dir: 'host -> container (published port)', mode: 'pasta', engine: 'tspod', fn: () => hostToCtr('tspod', dirs.tspod, 'pasta') });
  const longRunning = {};
  for (const engine of engines) {
    cases.push({
      dir: 'container -> host (container connects)', mode: 'slirp4netns', engine,
      async fn() {
        if (!longRunning[engine]) {
          longRunning[engine] = `netb-${randomBytes(4).toString('hex')}`;
          await userRun(engineCmd(engine, dirs[engine], 'run', '-d', '--name', longRunning[engine], '--network', SLIRP_LOOPBACK, opts.image, 'sleep', '3600'));
        }
        return ctrToHostConnect(engine, dirs[engine], longRunning[engine]);
      },
    });
  }
  for (const engine of engines) cases.push({ dir: 'container -> host (published port)', mode: 'slirp4netns', engine, fn: () => ctrToHostPublished(engine, dirs[engine], 'slirp4netns') });
  if (dirs.podman) cases.push({ dir: 'container -> host (published port)', mode: PODMAN_SLIRP_FWD, engine: 'podman', fn: () => ctrToHostPublished('podman', dirs.podman, PODMAN_SLIRP_FWD) });
  if (pasta) cases.push({ dir: 'container -> host (published port)', mode: 'pasta', engine: 'tspod', fn: () => ctrToHostPublished('tspod', dirs.tspod, 'pasta') });

  for (const c of cases) Object.assign(c, { name: `${c.dir} | ${c.mode} | ${c.engine}`, mbps: [], ms: [], warm: [] });
  try {
    // one warm-up each, then rounds with a rotated order
    for (const c of cases) {
      const r = await c.fn();
      c.warm.push((r.bytes / 1e6) / (r.ms / 1e3));
      log(`xfer warm-up ${c.name}: ${c.warm[0].toFixed(0)} MB/s`);
    }
    for (let i = 0; i < opts.xferRuns; i++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(i + k) % cases.length];
        const r = await c.fn();
        if (r.bytes !== BYTES) throw new Error(`${c.name}: received ${r.bytes} bytes, expected ${BYTES}`);
        const mbps = (r.bytes / 1e6) / (r.ms / 1e3);
        c.mbps.push(mbps);
        c.ms.push(r.ms);
        log(`xfer ${c.name} ${i + 1}/${opts.xferRuns}: ${fmtMs(r.ms)} = ${mbps.toFixed(0)} MB/s`);
      }
      loads.push(loadavg());
    }
  } finally {
    for (const [engine, name] of Object.entries(longRunning)) await rmCtr(engine, dirs[engine], name);
  }
  return cases.map(({ fn, ...c }) => ({ ...c, mbpsStats: stats(c.mbps), msStats: stats(c.ms) }));
}

// ------------------------------------------------------------------------------------------------

async function main() {
  if (!which('tspod')) throw new Error('tspod not installed');
  if (!which('nc')) throw new Error('nc not installed on the host (apt-get install netcat-openbsd)');
  let podman = !opts.noPodman && !!which('podman');
  const pasta = !opts.noPasta && !!which('pasta');
  const env = await environment();
  const base = `${opts.scratch}/net-${randomBytes(4).toString('hex')}`;
  const dirs = { tspod: `${base}/tspod` };
  if (podman) dirs.podman = `${base}/podman`;
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${Object.values(dirs).map(shq).join(' ')}`));
  const loads = [loadavg()];
  let setup = [];
  let xfer = [];
  try {
    for (const [engine, dir] of Object.entries(dirs)) await pullInto(engine, dir, opts.source, opts.image);
    if (podman) {
      env.podmanStore = (await userRun(engineCmd('podman', dirs.podman, 'info', '--format',
        '{{.Store.GraphDriverName}} runtime={{.Host.OCIRuntime.Name}} network={{.Host.NetworkBackend}} slirp4netns={{.Host.Slirp4NetNS.Version}}'))).stdout.trim().replace(/\n/g, ' ');
      const p = await userRun(engineCmd('podman', dirs.podman, 'run', '--rm', '--network', 'pasta', opts.image, 'true'), { allowFail: true });
      env.podmanPasta = p.code === 0 ? 'works' : `exit ${p.code}: ${p.stderr.trim().split('\n').pop()}`;
      log(`podman: ${env.podmanStore}; --network pasta: ${env.podmanPasta}`);
    }
    env.pasta = (await run(['dpkg-query', '-W', '-f', '${Version}', 'passt'], { allowFail: true })).stdout.trim(); // pasta --version: "unknown version"
    env.slirp4netns = (await run(['slirp4netns', '--version'], { allowFail: true })).stdout.split('\n')[0].trim();
    if (!opts.noSetup) setup = await setupCost(dirs, loads);
    if (!opts.noXfer) xfer = await throughput(dirs, pasta, loads);
    for (const [engine, dir] of Object.entries(dirs)) {
      const left = (await userRun(engineCmd(engine, dir, 'ps', '-aq'))).stdout.trim();
      if (left) log(`WARNING: ${engine}: containers left: ${left.split('\n').length}`);
    }
  } finally {
    for (const [engine, dir] of Object.entries(dirs)) await removeStore(engine, dir, { log });
    await removeStore('tspod', base, { containers: false, log });
  }
  env.loadavgEnd = loadavg();

  process.stdout.write(`\ntspod network benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'} (${env.podmanStore ?? '-'}), ` +
    `${env.slirp4netns}, pasta ${env.pasta || '?'}, node ${env.node}; user ${BENCH_USER}\n`);
  if (env.podmanPasta) process.stdout.write(`podman --network pasta: ${env.podmanPasta}\n`);
  process.stdout.write(`load average: ${loads.join(' | ')} | end ${env.loadavgEnd}\n`);

  const ratios = {};
  if (setup.length) {
    const g = (n) => setup.find((r) => r.name === n);
    process.stdout.write(`\n1. setup cost: \`run --rm ${opts.image} true\`, ${opts.runs} runs + ${opts.warmup} warm-up, medians\n\n`);
    printTable(['case', 'median', 'min', 'max', 'cpu (tree)', 'all exited'],
      setup.map((r) => [r.name, fmtMs(r.median), fmtMs(r.min), fmtMs(r.max), fmtMs(r.cpuStats.median), fmtMs(r.allDone.median)]));
    const cost = {};
    for (const e of Object.keys(dirs)) {
      cost[e] = { wall: g(`${e} default`).median - g(`${e} --network none`).median, cpu: g(`${e} default`).cpuStats.median - g(`${e} --network none`).cpuStats.median };
      process.stdout.write(`\n${e} network cost (default - none): ${fmtMs(cost[e].wall)} wall, ${fmtMs(cost[e].cpu)} cpu`);
    }
    process.stdout.write('\n');
    if (podman) {
      Object.assign(ratios, {
        defaultTspodVsPodman: ratio(g('tspod default').median, g('podman default').median),
        noneTspodVsPodman: ratio(g('tspod --network none').median, g('podman --network none').median),
        networkCostTspodVsPodman: ratio(cost.tspod.wall, cost.podman.wall),
        networkCostCpuTspodVsPodman: ratio(cost.tspod.cpu, cost.podman.cpu),
      });
      process.stdout.write(`tspod / podman: default ${fmtRatio(ratios.defaultTspodVsPodman)}, --network none ${fmtRatio(ratios.noneTspodVsPodman)}, ` +
        `network cost ${fmtRatio(ratios.networkCostTspodVsPodman)} (cpu ${fmtRatio(ratios.networkCostCpuTspodVsPodman)})\n`);
    }
    ratios.networkCost = cost;
  }
  if (xfer.length) {
    process.stdout.write(`\n2. throughput: ${opts.mib} MiB of zeros per sample, ${opts.xferRuns} runs + 1 warm-up, median MB/s (10^6 B/s)\n\n`);
    // on each podman row: tspod's slirp4netns median in the same direction / this one (target on the
    // podman default row: >= 1.00x)
    const tspodOf = (c) => xfer.find((x) => x.dir === c.dir && x.mode === 'slirp4netns' && x.engine === 'tspod');
    printTable(['direction', 'mode', 'engine', 'median', 'min', 'max', 'tspod slirp4netns / this'],
      xfer.map((c) => {
        const t = c.engine === 'podman' ? tspodOf(c) : undefined;
        const r = t ? ratio(t.mbpsStats.median, c.mbpsStats.median) : NaN;
        if (t) ratios[`${c.dir} | tspod slirp4netns / podman ${c.mode}`] = r;
        return [c.dir, c.mode, c.engine, `${c.mbpsStats.median.toFixed(0)} MB/s`, c.mbpsStats.min.toFixed(0), c.mbpsStats.max.toFixed(0),
          !t ? '' : c.mode === 'slirp4netns' ? `${fmtRatio(r)} ${r >= 1 ? 'PASS' : 'MISS'} (>= 1.00x)` : `${fmtRatio(r)} (context)`];
      }));
  }
  const file = writeResults('network', { benchmark: 'network', env: { ...env, loadavgSamples: loads }, options: opts, targets: { throughputTspodVsPodman: '>= 1.0' }, ratios, setup, throughput: xfer });
  process.stdout.write(`\nresults: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/network] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
