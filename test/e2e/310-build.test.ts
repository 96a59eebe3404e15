// build: a Containerfile with RUN, COPY, ENV, WORKDIR, CMD run end to end; the layer cache (an
// unchanged rebuild reuses every step, a changed file reruns from its COPY on); multi-stage
// COPY --from and --target; a failing RUN; .containerignore; a context symlink pointing out of the
// context; -q, --iidfile, -f -; --squash and --squash-all; --platform and FROM --platform; ADD of
// a URL served by a tiny HTTP server on 127.0.0.1.
//
// Requirements: rootless test user with subordinate ids, the fixture registry on 127.0.0.1:5000
// (docker.io mirror). No network inside the build containers.

import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IS_PODMAN, REGISTRY, TEST_USER, asUser, cleanStore, fails, ok, storeFor, tspod } from './helpers.js';

const store = storeFor('310-build');
const HOME = execFileSync('getent', ['passwd', TEST_USER], { encoding: 'utf8' }).split(':')[5]!;
const WORK = `${HOME}/e2e/310-build.work`;
const IMG = 'localhost/e2e-310-app';

/** Writes files (relative to WORK) as the test user. */
async function write(files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    const r = await asUser('sh', ['-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', `${WORK}/${name}`], { input: text });
    expect(r.code).toBe(0);
  }
}

async function sh(cmd: string): Promise<void> {
  const r = await asUser('sh', ['-c', cmd]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

const SIMPLE = ['FROM alpine:3.15', 'RUN echo built > /built', 'COPY f.txt /app/', 'ENV GREETING=hello', 'WORKDIR /app', 'CMD ["sh", "-c", "cat /built f.txt; echo $GREETING; pwd"]', ''].join('\n');

/** The lines of a build's output that say a step came from the cache, by step number. */
function cachedSteps(out: string): number[] {
  const steps: number[] = [];
  let cur = 0;
  for (const line of out.split('\n')) {
    const m = /^(?:\[\d+\/\d+\] )?STEP (\d+)\/\d+:/.exec(line);
    if (m) cur = Number(m[1]);
    else if (/^(?:\[\d+\/\d+\] )?--> Using cache [0-9a-f]{64}$/.test(line)) steps.push(cur);
  }
  return steps;
}

function lastId(out: string): string {
  const lines = out.trim().split('\n');
  const id = lines[lines.length - 1]!;
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  return id;
}

beforeAll(async () => {
  await cleanStore(store);
  await sh(`rm -rf ${WORK} && mkdir -p ${WORK}/simple ${WORK}/squashdel ${WORK}/platform ${WORK}/platform2 ${WORK}/remote ${WORK}/remote404 ${WORK}/multi ${WORK}/fail ${WORK}/ignore ${WORK}/escape ${WORK}/wide/tdir/sub`);
  await write({ 'simple/Containerfile': SIMPLE, 'simple/f.txt': 'v1\n' });
  const r = await ok(['pull', '-q', 'alpine:3.15'], { store });
  expect(r.stderr).toBe('');
}, 180_000);

afterAll(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
  await asUser('rm', ['-rf', WORK]);
  await cleanStore(store);
});

describe('build', () => {
  let firstId = '';

  it('builds FROM + RUN + COPY + ENV + WORKDIR + CMD, and the image runs', async () => {
    const r = await ok(['build', '-t', 'e2e-310-app', `${WORK}/simple`], { store, timeoutMs: 180_000 });
    expect(r.stdout).toContain('STEP 1/6: FROM alpine:3.15\n');
    expect(r.stdout).toContain('STEP 2/6: RUN echo built > /built\n');
    expect(r.stdout).toContain('STEP 6/6: CMD ["sh", "-c", "cat /built f.txt; echo $GREETING; pwd"]\n');
    expect(r.stdout).toContain(`Successfully tagged ${IMG}:latest\n`);
    firstId = lastId(r.stdout);
    const run = await ok(['run', '--rm', 'e2e-310-app'], { store });
    expect(run.stdout).toBe('built\nv1\nhello\n/app\n');
    expect(run.stderr).toBe('');
    const inspect = await ok(['image', 'inspect', '--format', '{{.Id}} {{.Config.WorkingDir}} {{.Config.Env}}', IMG], { store });
    expect(inspect.stdout).toMatch(new RegExp(`^(sha256:)?${firstId} /app \\[.*GREETING=hello.*\\]\\n$`));
  }, 240_000);

  it('an unchanged rebuild takes every step from the cache and gives the same image', async () => {
    const r = await ok(['build', '-t', 'e2e-310-app', `${WORK}/simple`], { store, timeoutMs: 120_000 });
    expect(cachedSteps(r.stdout)).toEqual([2, 3, 4, 5, 6]);
    expect(lastId(r.stdout)).toBe(firstId);
  }, 180_000);

  it('a changed file reruns its COPY and every step after it', async () => {
    await write({ 'simple/f.txt': 'v2\n' });
    const r = await ok(['build', '-t', 'e2e-310-app', `${WORK}/simple`], { store, timeoutMs: 120_000 });
    expect(cachedSteps(r.stdout)).toEqual([2]);
    expect(lastId(r.stdout)).not.toBe(firstId);
    const run = await ok(['run', '--rm', 'e2e-310-app'], { store });
    expect(run.stdout).toBe('built\nv2\nhello\n/app\n');
  }, 180_000);

  it('multi-stage: COPY --from a named stage, build args, --target', async () => {
    await write({
      'multi/Containerfile': [
        'ARG BASE=alpine:3.15',
        'FROM $BASE AS builder',
        'ARG MSG=default',
        'RUN echo "$MSG from builder" > /out.txt',
        'FROM $BASE',
        'COPY --from=builder /out.txt /res/',
        'CMD ["cat", "/res/out.txt"]',
        '',
      ].join('\n'),
    });
    await ok(['build', '--build-arg', 'MSG=hi', '-t', 'e2e-310-multi', `${WORK}/multi`], { store, timeoutMs: 180_000 });
    const run = await ok(['run', '--rm', 'e2e-310-multi'], { store });
    expect(run.stdout).toBe('hi from builder\n');
    await ok(['build', '--target', 'builder', '-t', 'e2e-310-stage1', `${WORK}/multi`], { store, timeoutMs: 180_000 });
    const run2 = await ok(['run', '--rm', 'e2e-310-stage1', 'cat', '/out.txt'], { store });
    expect(run2.stdout).toBe('default from builder\n');
  }, 240_000);

  it('a failing RUN fails the build with its output, and the error names the instruction', async () => {
    await write({ 'fail/Containerfile': 'FROM alpine:3.15\nRUN echo ok\nRUN echo before-fail; exit 3\nRUN echo never\n' });
    const r = await fails(['build', '-t', 'e2e-310-fail', `${WORK}/fail`], 3, { store, timeoutMs: 120_000 }); // the RUN's exit code, as podman
    expect(r.stdout).toContain('before-fail\n');
    expect(r.stdout).not.toContain('never');
    expect(r.stderr).toContain('building at STEP "RUN echo before-fail; exit 3"');
    expect(r.stderr).toContain('exit status 3');
    if (!IS_PODMAN) expect(r.stderr).toMatch(/^Error: Containerfile:3: /); // podman does not name the line
    await fails(['image', 'exists', 'e2e-310-fail'], 1, { store });
    const ps = await ok(['ps', '-a', '-q'], { store }); // no working container is left behind
    expect(ps.stdout).toBe('');
  }, 180_000);

  it('.containerignore keeps files out of COPY', async () => {
    await write({
      'ignore/Containerfile': 'FROM alpine:3.15\nCOPY . /ctx/\nCMD ["ls", "/ctx"]\n',
      'ignore/.containerignore': '*.secret\nContainerfile\n.containerignore\n',
      'ignore/kept.txt': 'k\n',
      'ignore/a.secret': 's\n',
    });
    await ok(['build', '-t', 'e2e-310-ignore', `${WORK}/ignore`], { store, timeoutMs: 120_000 });
    const run = await ok(['run', '--rm', 'e2e-310-ignore'], { store });
    expect(run.stdout).toBe('kept.txt\n');
  }, 180_000);

  it('a symlink in the context never reads host files outside it', async () => {
    await write({ 'escape/Containerfile': 'FROM alpine:3.15\nCOPY hostetc/passwd /stolen\n' });
    await sh(`ln -s /etc ${WORK}/escape/hostetc`);
    const r = await tspod(['build', '-t', 'e2e-310-escape', `${WORK}/escape`], { store, timeoutMs: 120_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('hostetc/passwd');
    await fails(['image', 'exists', 'e2e-310-escape'], 1, { store });
  }, 180_000);

  it('ADD of a tar, COPY --chown, deletions, metadata instructions, --label', async () => {
    await write({
      'wide/Containerfile': [
        'FROM alpine:3.15',
        'RUN echo line1 > /h && echo line2 >> /h',
        'ADD a.tar /unpacked/',
        'COPY --chown=65534:65534 --chmod=640 p.txt /owned',
        'RUN rm /etc/alpine-release && mkdir /d && echo a > /d/a',
        'RUN rm -rf /d && mkdir /d && echo x > /d/new',
        'ENV X=1',
        'ENV Y=${X:+set} Z=${NOPE:-dflt}',
        'LABEL org.example.a=b',
        'EXPOSE 8080',
        'STOPSIGNAL SIGINT',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo $X $Y $Z; cat /h /unpacked/sub/x; stat -c \'%u:%g %a\' /owned; test -e /etc/alpine-release || echo deleted; ls /d"]',
        '',
      ].join('\n'),
      'wide/p.txt': 'plain\n',
      'wide/tdir/sub/x': 'intar\n',
    });
    await sh(`tar -cf ${WORK}/wide/a.tar -C ${WORK}/wide/tdir .`);
    await ok(['build', '--label', 'from.flag=yes', '-t', 'e2e-310-wide', `${WORK}/wide`], { store, timeoutMs: 180_000 });
    const run = await ok(['run', '--rm', 'e2e-310-wide'], { store });
    expect(run.stdout).toBe('1 set dflt\nline1\nline2\nintar\n65534:65534 640\ndeleted\nnew\n');
    const fmt = '{{index .Config.Labels "org.example.a"}} {{index .Config.Labels "from.flag"}} {{json .Config.ExposedPorts}} {{.Config.StopSignal}} {{.Config.Entrypoint}}';
    const inspect = await ok(['image', 'inspect', '--format', fmt, 'e2e-310-wide'], { store });
    expect(inspect.stdout).toBe('b yes {"8080/tcp":{}} SIGINT [/bin/sh -c]\n');
  }, 240_000);

  // the podman on the test host (buildah before 1.33) has no heredoc support
  it.skipIf(IS_PODMAN)('heredocs in RUN and COPY', async () => {
    await write({ 'heredoc/Containerfile': 'FROM alpine:3.15\nRUN <<EOT\necho one > /h\necho two >> /h\nEOT\nCOPY <<EOF /c\ncopied\nEOF\nCMD ["cat", "/h", "/c"]\n' });
    await ok(['build', '-t', 'e2e-310-heredoc', `${WORK}/heredoc`], { store, timeoutMs: 180_000 });
    const run = await ok(['run', '--rm', 'e2e-310-heredoc'], { store });
    expect(run.stdout).toBe('one\ntwo\ncopied\n');
  }, 240_000);

  it('-q prints only the image ID; --iidfile writes it', async () => {
    const r = await ok(['build', '-q', '--iidfile', `${WORK}/iid`, `${WORK}/simple`], { store, timeoutMs: 120_000 });
    expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const iid = await asUser('cat', [`${WORK}/iid`]);
    expect(iid.stdout).toBe(`sha256:${r.stdout.trim()}`);
  }, 180_000);

  // podman opens /dev/stdin, which fails on the socket the test harness gives as stdin (ENXIO)
  it.skipIf(IS_PODMAN)('-f - reads the Containerfile from stdin', async () => {
    const r = await ok(['build', '-q', '-f', '-', `${WORK}/simple`], { store, input: SIMPLE.replace('hello', 'stdin'), timeoutMs: 120_000 });
    const id = r.stdout.trim();
    const run = await ok(['run', '--rm', id], { store });
    expect(run.stdout).toBe('built\nv2\nstdin\n/app\n');
  }, 180_000);

  it('--squash makes the new layers one, --squash-all the whole image', async () => {
    const sq = await ok(['build', '-q', '--squash', '-t', 'e2e-310-squash', `${WORK}/simple`], { store, timeoutMs: 180_000 });
    const base = await ok(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'alpine:3.15'], { store });
    const n = Number(base.stdout.trim());
    const layers = await ok(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'e2e-310-squash'], { store });
    expect(layers.stdout).toBe(`${n + 1}\n`); // RUN and COPY: one layer over alpine's
    const run = await ok(['run', '--rm', 'e2e-310-squash'], { store });
    expect(run.stdout).toBe('built\nv2\nhello\n/app\n');
    const all = await ok(['build', '-q', '--squash-all', '-t', 'e2e-310-squash-all', `${WORK}/simple`], { store, timeoutMs: 180_000 });
    expect(all.stdout.trim()).not.toBe(sq.stdout.trim());
    const one = await ok(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'e2e-310-squash-all'], { store });
    expect(one.stdout).toBe('1\n');
    const run2 = await ok(['run', '--rm', 'e2e-310-squash-all'], { store });
    expect(run2.stdout).toBe('built\nv2\nhello\n/app\n');
  }, 300_000);

  it('--squash keeps deletions and opaque directories', async () => {
    await write({
      'squashdel/Containerfile': [
        'FROM alpine:3.15',
        'RUN mkdir /d && echo x > /d/x && rm /etc/alpine-release',
        'RUN rm -rf /d && mkdir /d && echo y > /d/y && mkdir /n && echo n > /n/f && rm /n/f',
        'CMD ["sh", "-c", "ls /d /n; test -e /etc/alpine-release || echo deleted"]',
        '',
      ].join('\n'),
    });
    await ok(['build', '-q', '--squash', '-t', 'e2e-310-squashdel', `${WORK}/squashdel`], { store, timeoutMs: 180_000 });
    const run = await ok(['run', '--rm', 'e2e-310-squashdel'], { store });
    expect(run.stdout).toBe('/d:\ny\n\n/n:\ndeleted\n');
    expect(run.stderr).toBe('');
  }, 240_000);

  // The pushed config is the local one: its diff IDs are those of the tars push writes, so the
  // image ID (the config's digest) is the same on both sides, for layers of RUN, COPY, deletions
  // and a squash (the base layer keeps the blob it was pulled as).
  it('a built image pushed keeps its image ID', async () => {
    for (const tag of ['e2e-310-squashdel', 'e2e-310-squash-all']) {
      const id = (await ok(['image', 'inspect', '--format', '{{.Id}}', tag], { store })).stdout.trim();
      const dest = `${REGISTRY}/e2e-310/${tag}:1`;
      await ok(['push', '-q', '--tls-verify=false', tag, dest], { store, timeoutMs: 120_000 });
      const raw = await asUser('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dest}`]);
      expect(raw.code).toBe(0);
      const digest = (JSON.parse(raw.stdout) as { config: { digest: string } }).config.digest;
      expect(digest.replace(/^sha256:/, '')).toBe(id.replace(/^sha256:/, ''));
    }
  }, 240_000);

  it('RUN --mount: cache survives builds, bind (context or stage) is a private read-only copy, tmpfs; no trace in the image', async () => {
    const tag = Date.now().toString(36);
    await write({
      'runmount/src/sub/a.txt': 'ctx-file\n',
      'runmount/Containerfile': [
        'FROM alpine:3.15 AS base',
        'RUN mkdir -p /out && echo from-stage > /out/s.txt',
        'FROM alpine:3.15',
        'WORKDIR /w',
        `RUN --mount=type=cache,id=e2e-310-${tag},target=/var/cache/x sh -c "echo run >> /var/cache/x/log; wc -l < /var/cache/x/log"`,
        'RUN --mount=type=bind,source=src,target=/src cat /src/sub/a.txt && (echo nope > /src/sub/a.txt 2>/dev/null || echo ro)',
        'RUN --mount=type=bind,from=base,source=/out,target=/in,rw cat /in/s.txt && echo changed > /in/s.txt',
        'RUN --mount=type=tmpfs,target=/scratch df /scratch | tail -1 | cut -d" " -f1',
        'CMD ["sh", "-c", "ls -d /var/cache/x /src /in /scratch 2>&1; ls /w"]',
        '',
      ].join('\n'),
    });
    const first = await ok(['build', '--no-cache', '-t', 'e2e-310-runmount', `${WORK}/runmount`], { store, timeoutMs: 180_000 });
    const lines = first.stdout.split('\n');
    expect(lines).toContain('1'); // the cache's first use
    expect(lines).toContain('ctx-file');
    expect(lines).toContain('ro');
    expect(lines).toContain('from-stage');
    expect(lines).toContain('tmpfs');
    const again = await ok(['build', '--no-cache', '-q', '-t', 'e2e-310-runmount', `${WORK}/runmount`], { store, timeoutMs: 180_000 });
    expect(again.stderr).not.toMatch(/Error/);
    const second = await ok(['build', '--no-cache', `${WORK}/runmount`], { store, timeoutMs: 180_000 });
    expect(second.stdout.split('\n')).toContain('3'); // third use of the same cache id
    expect((await asUser('cat', [`${WORK}/runmount/src/sub/a.txt`])).stdout).toBe('ctx-file\n');
    const run = await ok(['run', '--rm', 'e2e-310-runmount'], { store });
    expect(run.stdout).toBe(
      'ls: /var/cache/x: No such file or directory\nls: /src: No such file or directory\nls: /in: No such file or directory\nls: /scratch: No such file or directory\n',
    );
  }, 600_000);

  // tspod only: podman 4.3's layer cache ignores what a bind mount shows (the step is reused after
  // data.txt changed), knows no RUN --network (added in later buildah) and words errors otherwise.
  it.skipIf(IS_PODMAN)('RUN --mount: a changed bind source reruns the step; RUN --network; bad flags are refused with the line', async () => {
    await write({ 'runmount4/Containerfile': 'FROM alpine:3.15\nRUN --network=none cat /proc/net/dev | grep -c ":"\n' });
    const none = await ok(['build', '--no-cache', `${WORK}/runmount4`], { store, timeoutMs: 120_000 });
    expect(none.stdout.split('\n')).toContain('1'); // loopback only
    await write({ 'runmount2/data.txt': 'one\n', 'runmount2/Containerfile': 'FROM alpine:3.15\nRUN --mount=target=/d cat /d/data.txt\n' });
    const a = await ok(['build', '-q', `${WORK}/runmount2`], { store, timeoutMs: 120_000 });
    await write({ 'runmount2/data.txt': 'two\n' });
    const b = await ok(['build', `${WORK}/runmount2`], { store, timeoutMs: 120_000 });
    expect(b.stdout).toContain('two\n');
    expect(b.stdout.trim().split('\n').pop()).not.toBe(a.stdout.trim());
    for (const [flag, msg] of [
      ['--mount=type=secret,id=x,target=/s', /type=secret is not supported/],
      ['--mount=type=bind,source=missing,target=/m', /source "missing" not found/],
      ['--mount=type=cache', /target is required/],
      ['--frobnicate', /unknown flag --frobnicate/],
      ['--network=bridge', /--network=bridge/],
    ] as const) {
      await write({ 'runmount3/Containerfile': `FROM alpine:3.15\nRUN ${flag} true\n` });
      const r = await fails(['build', `${WORK}/runmount3`], 125, { store, timeoutMs: 120_000 });
      expect(r.stderr).toMatch(/Containerfile:2/);
      expect(r.stderr).toMatch(msg);
    }
  }, 600_000);

  it('COPY and ADD refuse flags podman 4.3 does not have (--link, --checksum), with its words', async () => {
    for (const [line, msg] of [
      ['COPY --link f /g', 'COPY only supports the --chmod=<permissions> --chown=<uid:gid> and the --from=<image|stage> flags'],
      ['ADD --checksum=sha256:abc f /g', 'ADD only supports the --chmod=<permissions> and the --chown=<uid:gid> flag'],
    ] as const) {
      await write({ 'copyflags/f': 'x\n', 'copyflags/Containerfile': `FROM alpine:3.15\n${line}\n` });
      const r = await fails(['build', `${WORK}/copyflags`], 125, { store, timeoutMs: 120_000 });
      expect(r.stderr).toContain(`building at STEP "${line}": ${msg}`);
    }
  }, 240_000);

  it('--platform: the host platform builds; FROM --platform likewise', async () => {
    await write({ 'platform/Containerfile': 'FROM --platform=$BUILDPLATFORM alpine:3.15\nCMD ["true"]\n' });
    await ok(['build', '-q', '--platform', 'linux/amd64', `${WORK}/platform`], { store, timeoutMs: 120_000 });
  }, 180_000);

  it.skipIf(IS_PODMAN)('--platform: another platform is refused with a clear error', async () => {
    const r = await fails(['build', '-q', '--platform', 'linux/arm64', `${WORK}/simple`], 125, { store });
    expect(r.stderr).toContain('platform "linux/arm64" is not supported: tspod builds only for the host platform linux/amd64');
    await write({ 'platform2/Containerfile': 'FROM --platform=linux/s390x alpine:3.15\nCMD ["true"]\n' });
    const r2 = await fails(['build', '-q', `${WORK}/platform2`], 125, { store });
    expect(r2.stderr).toContain('Containerfile:1: FROM --platform: platform "linux/s390x" is not supported');
  }, 120_000);

  describe('ADD of a URL', () => {
    let server: Server;
    let body = 'remote v1\n';
    let hits = 0;
    const lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT';
    beforeAll(async () => {
      server = createServer((req, res) => {
        hits++;
        if (req.url !== '/files/remote.txt') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Last-Modified': lastModified, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('fetches the file (not unpacked), with its mtime, and caches by content', async () => {
      const port = (server.address() as AddressInfo).port;
      await write({
        'remote/Containerfile': `FROM alpine:3.15\nADD http://127.0.0.1:${port}/files/remote.txt /dl/\nCMD ["sh", "-c", "cat /dl/remote.txt; stat -c %Y /dl/remote.txt"]\n`,
      });
      const r = await ok(['build', '-t', 'e2e-310-remote', `${WORK}/remote`], { store, timeoutMs: 120_000 });
      expect(hits).toBeGreaterThan(0);
      const run = await ok(['run', '--rm', 'e2e-310-remote'], { store });
      expect(run.stdout).toBe(`remote v1\n${Date.parse(lastModified) / 1000}\n`);
      if (!IS_PODMAN) {
        const again = await ok(['build', '-t', 'e2e-310-remote', `${WORK}/remote`], { store, timeoutMs: 120_000 });
        expect(cachedSteps(again.stdout)).toEqual([2, 3]);
        expect(lastId(again.stdout)).toBe(lastId(r.stdout));
      }
      body = 'remote v2\n';
      const changed = await ok(['build', '-t', 'e2e-310-remote', `${WORK}/remote`], { store, timeoutMs: 120_000 });
      expect(cachedSteps(changed.stdout)).toEqual([]);
      const run2 = await ok(['run', '--rm', 'e2e-310-remote'], { store });
      expect(run2.stdout).toContain('remote v2\n');
    }, 300_000);

    it.skipIf(IS_PODMAN)('a missing URL fails the build with the HTTP status', async () => {
      const port = (server.address() as AddressInfo).port;
      await write({ 'remote404/Containerfile': `FROM alpine:3.15\nADD http://127.0.0.1:${port}/nope.txt /x\n` });
      const r = await fails(['build', '-q', `${WORK}/remote404`], 125, { store, timeoutMs: 60_000 });
      expect(r.stderr).toContain(`fetching http://127.0.0.1:${port}/nope.txt: HTTP 404`);
    }, 120_000);
  });
});
