// The registry client against fake registries on 127.0.0.1 (node:http), one per test.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TspodError } from '../../src/errors.js';
import { noProxyMatches, proxyForUrl } from '../../src/image/http.js';
import { MEDIA_TYPE } from '../../src/image/manifest.js';
import { RegistryClient, parseChallenges } from '../../src/image/registry.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

interface Fake {
  host: string; // 127.0.0.1:port
  port: number;
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  server: http.Server;
}

const servers: http.Server[] = [];
const sockets: net.Socket[] = []; // CONNECT tunnels, which servers no longer track
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function fake(handler: Handler): Promise<Fake> {
  const requests: Fake['requests'] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers });
      handler(req, res, Buffer.concat(parts));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { host: `127.0.0.1:${port}`, port, requests, server };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const client = (host: string, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) =>
  new RegistryClient({ registry: host, insecure: true, backoffMs: 5, timeoutMs: 2000, env: {}, ...extra });

const manifestBytes = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifest,
    config: { mediaType: MEDIA_TYPE.dockerConfig, digest: `sha256:${'1'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);

function sendManifest(res: http.ServerResponse, bytes = manifestBytes): void {
  res.writeHead(200, { 'content-type': MEDIA_TYPE.dockerManifest, 'content-length': bytes.length, 'docker-content-digest': sha(bytes) });
  res.end(bytes);
}

function regError(res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify({ errors: [{ code, message, detail: null }] }));
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

async function rejection(p: Promise<unknown>): Promise<TspodError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TspodError);
    return e as TspodError;
  }
  throw new Error('expected a rejection');
}

describe('ping and transport', () => {
  it('an insecure registry that speaks plain http is reached over http', async () => {
    const f = await fake((req, res) => (req.url === '/v2/' ? res.end('{}') : sendManifest(res)));
    const m = await client(f.host).getManifest('foo', 'latest');
    expect(m.digest).toBe(sha(manifestBytes));
    expect(m.mediaType).toBe(MEDIA_TYPE.dockerManifest);
    expect(f.requests.map((r) => r.url)).toEqual(['/v2/', '/v2/foo/manifests/latest']);
    expect(f.requests[1]!.headers['user-agent']).toMatch(/^tspod\//);
    expect(f.requests[1]!.headers.accept).toContain(MEDIA_TYPE.ociIndex);
  });

  it('a secure client refuses a plain-http registry, in podman words', async () => {
    const f = await fake((_req, res) => res.end('{}'));
    const e = await rejection(client(f.host, { insecure: false }).ping());
    expect(e.code).toBe('network');
    expect(e.message).toBe(`pinging container registry ${f.host}: Get "https://${f.host}/v2/": http: server gave HTTP response to HTTPS client`);
  });

  it('connection refused names the address', async () => {
    const f = await fake(() => {});
    await new Promise((r) => f.server.close(r));
    const e = await rejection(client(f.host, { attempts: 1 }).getManifest('foo', 'latest'));
    expect(e.code).toBe('network');
    expect(e.message).toContain(`dial tcp ${f.host}: connect: connection refused`);
    expect(e.message).toBe(`pinging container registry ${f.host}: Get "http://${f.host}/v2/": dial tcp ${f.host}: connect: connection refused`);
  });

  it('retries 503 with backoff, then succeeds', async () => {
    let n = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      if (n++ < 2) return regError(res, 503, 'UNAVAILABLE', 'try later');
      sendManifest(res);
    });
    await client(f.host).getManifest('foo', 'latest');
    expect(f.requests.filter((r) => r.url.includes('manifests')).length).toBe(3);
  });

  it('gives up after the attempts with the registry error', async () => {
    const f = await fake((req, res) => (req.url === '/v2/' ? res.end('{}') : regError(res, 503, 'UNAVAILABLE', 'down for maintenance')));
    const e = await rejection(client(f.host).getManifest('foo', 'latest'));
    expect(e.code).toBe('registry');
    expect(e.message).toBe(`reading manifest latest in ${f.host}/foo: unavailable: down for maintenance`);
  });

  it('a stalled registry times out', async () => {
    const f = await fake((req, res) => (req.url === '/v2/' ? res.end('{}') : undefined));
    const e = await rejection(client(f.host, { timeoutMs: 150, attempts: 1 }).getManifest('foo', 'latest'));
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/timeout/);
  });
});

function selfSignedCert(): { key: Buffer; cert: Buffer } | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-image-registry-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) };
  } catch {
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('TLS', () => {
  const tlsCert = selfSignedCert();
  it.skipIf(!tlsCert)('verifies certificates by default; insecure skips verification but stays on https', async () => {
    const urls: string[] = [];
    const server = https.createServer({ key: tlsCert!.key, cert: tlsCert!.cert }, (req, res) => {
      urls.push(req.url!);
      if (req.url === '/v2/') return res.end('{}');
      sendManifest(res);
    });
    servers.push(server as unknown as http.Server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const e = await rejection(client(host, { insecure: false, attempts: 1 }).ping());
    expect(e.code).toBe('network');
    expect(e.message).toMatch(new RegExp(`^pinging container registry ${host}: Get "https://${host}/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`));
    await client(host, { insecure: true }).getManifest('foo', 'latest');
    expect(urls).toEqual(['/v2/', '/v2/foo/manifests/latest']);
  });
});

describe('TLS through a proxy', () => {
  const tlsCert = selfSignedCert();
  it.skipIf(!tlsCert)('https goes through a CONNECT tunnel', async () => {
    const urls: string[] = [];
    const tlsServer = https.createServer({ key: tlsCert!.key, cert: tlsCert!.cert }, (req, res) => {
      urls.push(`${req.headers.host}${req.url}`);
      if (req.url === '/v2/') return res.end('{}');
      sendManifest(res);
    });
    servers.push(tlsServer as unknown as http.Server);
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    const tlsPort = (tlsServer.address() as AddressInfo).port;
    const proxy = await fake((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const connects: string[] = [];
    proxy.server.on('connect', (req: http.IncomingMessage, socket: import('node:net').Socket) => {
      connects.push(req.url!);
      sockets.push(socket);
      const upstream = net.connect(tlsPort, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    const c = new RegistryClient({ registry: 'registry.test', insecure: true, env: { https_proxy: `http://${proxy.host}` }, backoffMs: 1 });
    await c.getManifest('foo', 'latest');
    expect(connects).toEqual(['registry.test:443', 'registry.test:443']);
    expect(urls).toEqual(['registry.test/v2/', 'registry.test/v2/foo/manifests/latest']);
  });
});

describe('authentication', () => {
  it('Bearer token flow: realm, service, scope, basic creds to the realm, token cached per scope', async () => {
    let port = 0;
    const tokenCalls: URL[] = [];
    const f = await fake((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/token') {
        tokenCalls.push(url);
        if (req.headers.authorization !== `Basic ${Buffer.from('alice:pw').toString('base64')}`) return regError(res, 401, 'UNAUTHORIZED', 'bad creds');
        return res.end(JSON.stringify({ access_token: `tok-${url.searchParams.getAll('scope').join('+')}`, expires_in: 300 }));
      }
      const want = url.pathname.startsWith('/v2/foo/') ? 'Bearer tok-repository:foo:pull' : url.pathname.startsWith('/v2/bar/') ? 'Bearer tok-repository:bar:pull' : undefined;
      if (!want || req.headers.authorization !== want) {
        const scope = url.pathname.split('/')[2];
        return regError(res, 401, 'UNAUTHORIZED', 'authentication required', {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="fake-registry"${url.pathname === '/v2/' ? '' : `,scope="repository:${scope}:pull"`}`,
        });
      }
      sendManifest(res);
    });
    port = f.port;
    const c = client(f.host, { credentials: { username: 'alice', password: 'pw' } });
    await c.getManifest('foo', 'latest');
    await c.getManifest('foo', 'v2');
    await c.getManifest('bar', 'latest');
    expect(tokenCalls.map((u) => [u.searchParams.get('service'), u.searchParams.getAll('scope')])).toEqual([
      ['fake-registry', ['repository:foo:pull']],
      ['fake-registry', ['repository:bar:pull']],
    ]);
    expect(tokenCalls[0]!.searchParams.get('account')).toBe('alice');
  });

  it('a challenge that first appears on the repository is honoured; identity tokens are POSTed', async () => {
    let port = 0;
    const f = await fake((req, res, body) => {
      if (req.url === '/v2/') return res.end('{}');
      if (req.url === '/oauth') {
        const form = new URLSearchParams(body.toString());
        expect(req.method).toBe('POST');
        expect(form.get('grant_type')).toBe('refresh_token');
        expect(form.get('refresh_token')).toBe('idtok');
        expect(form.get('scope')).toBe('repository:foo:pull');
        return res.end(JSON.stringify({ access_token: 'acc' }));
      }
      if (req.headers.authorization !== 'Bearer acc') {
        return regError(res, 401, 'UNAUTHORIZED', 'authentication required', {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/oauth",service="s",scope="repository:foo:pull"`,
        });
      }
      sendManifest(res);
    });
    port = f.port;
    await client(f.host, { credentials: { identityToken: 'idtok' } }).getManifest('foo', 'latest');
  });

  it('Bearer with bad credentials is unauthorized', async () => {
    let port = 0;
    const f = await fake((req, res) => {
      if (req.url!.startsWith('/token')) return regError(res, 401, 'UNAUTHORIZED', 'bad creds');
      regError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="s"` });
    });
    port = f.port;
    const e = await rejection(client(f.host, { credentials: { username: 'a', password: 'wrong' } }).getManifest('foo', 'latest'));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toMatch(/invalid username\/password: unauthorized: bad creds/);
  });

  it('anonymous Bearer token, then 401 on the repository: unauthorized in podman words', async () => {
    let port = 0;
    const f = await fake((req, res) => {
      if (req.url!.startsWith('/token')) {
        expect(req.headers.authorization).toBeUndefined();
        return res.end(JSON.stringify({ token: 'anon' }));
      }
      regError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="s"` });
    });
    port = f.port;
    const e = await rejection(client(f.host).getManifest('foo', 'latest'));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toBe(`reading manifest latest in ${f.host}/foo: unauthorized: authentication required`);
  });

  it('Basic auth: credentials sent when challenged; none → unauthorized', async () => {
    const good = `Basic ${Buffer.from('bob:s3cret').toString('base64')}`;
    const f = await fake((req, res) => {
      if (req.headers.authorization !== good) return regError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="Registry Realm"' });
      if (req.url === '/v2/') return res.end('{}');
      sendManifest(res);
    });
    await client(f.host, { credentials: { username: 'bob', password: 's3cret' } }).getManifest('foo', 'latest');
    expect(f.requests.at(-1)!.headers.authorization).toBe(good);
    const e = await rejection(client(f.host).getManifest('foo', 'latest'));
    expect(e.code).toBe('unauthorized');
    await client(f.host, { credentials: { username: 'bob', password: 's3cret' } }).checkLogin();
    expect((await rejection(client(f.host, { credentials: { username: 'bob', password: 'x' } }).checkLogin())).code).toBe('unauthorized');
  });

  it('parses WWW-Authenticate with several challenges', () => {
    expect(parseChallenges('Basic realm="a", Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'https://auth/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
    ]);
  });
});

describe('manifests', () => {
  it('manifest unknown reads like podman', async () => {
    const f = await fake((req, res) => (req.url === '/v2/' ? res.end('{}') : regError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')));
    const e = await rejection(client(f.host).getManifest('foo', 'latest'));
    expect(e.code).toBe('manifest-unknown');
    expect(e.message).toBe(`reading manifest latest in ${f.host}/foo: manifest unknown`);
  });

  it('a digest reference must match the bytes', async () => {
    const f = await fake((req, res) => (req.url === '/v2/' ? res.end('{}') : sendManifest(res)));
    const asked = `sha256:${'9'.repeat(64)}`;
    const e = await rejection(client(f.host).getManifest('foo', asked));
    expect(e.code).toBe('digest-mismatch');
    const ok = await client(f.host).getManifest('foo', sha(manifestBytes));
    expect(ok.bytes.equals(manifestBytes)).toBe(true);
  });

  it('refuses manifests over 4 MiB (Content-Length and streamed)', async () => {
    const big = Buffer.alloc((4 << 20) + 10, 0x20);
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      if (req.url!.includes('withlength')) {
        res.writeHead(200, { 'content-type': MEDIA_TYPE.dockerManifest, 'content-length': big.length });
        return res.end(big);
      }
      res.writeHead(200, { 'content-type': MEDIA_TYPE.dockerManifest }); // chunked
      res.end(big);
    });
    const e1 = await rejection(client(f.host).getManifest('foo', 'withlength'));
    expect(e1.code).toBe('hostile-content');
    const e2 = await rejection(client(f.host).getManifest('foo', 'chunked'));
    expect(e2.code).toBe('hostile-content');
    expect(e2.message).toMatch(/too large/);
  });

  it('refuses malformed references before any request', async () => {
    const f = await fake((_req, res) => res.end('{}'));
    expect((await rejection(client(f.host).getManifest('foo', 'sha256:../../etc'))).code).toBe('invalid-argument');
    expect((await rejection(client(f.host).getManifest('../x', 'latest'))).code).toBe('invalid-argument');
    expect(f.requests).toHaveLength(0);
  });
});

describe('blobs', () => {
  const blob = Buffer.alloc(1 << 20);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + (i >> 8)) & 0xff;
  const digest = sha(blob);

  function blobServer(opts: { cutAt?: number; cuts?: number; honourRange?: boolean; extra?: number; chunked?: boolean } = {}) {
    let cuts = opts.cuts ?? 0;
    return fake((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      let start = 0;
      if (range && (opts.honourRange ?? true)) start = Number(range[1]);
      const body = opts.extra ? Buffer.concat([blob, Buffer.alloc(opts.extra, 1)]) : blob;
      const part = body.subarray(start);
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
      if (!opts.chunked) headers['content-length'] = part.length;
      if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(start > 0 ? 206 : 200, headers);
      if (cuts > 0) {
        cuts--;
        const n = Math.min(opts.cutAt ?? 300_000, part.length - 1);
        res.write(part.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      res.end(part);
    });
  }

  it('streams and verifies a blob', async () => {
    const f = await blobServer();
    const got = await collect(await client(f.host).getBlob('foo', digest, blob.length));
    expect(got.equals(blob)).toBe(true);
  });

  it('resumes with Range after the server cuts the connection mid-body', async () => {
    const f = await blobServer({ cuts: 2, cutAt: 300_000 });
    const got = await collect(await client(f.host).getBlob('foo', digest, { size: blob.length }));
    expect(got.equals(blob)).toBe(true);
    const ranges = f.requests.filter((r) => r.url.includes('/blobs/')).map((r) => r.headers.range);
    expect(ranges).toEqual([undefined, 'bytes=300000-', 'bytes=600000-']);
  });

  it('resumes when the server ignores Range (skips the prefix it already sent)', async () => {
    const f = await blobServer({ cuts: 1, cutAt: 123_457, honourRange: false });
    const got = await collect(await client(f.host).getBlob('foo', digest, blob.length));
    expect(got.equals(blob)).toBe(true);
  });

  it('resumes after a registry stalls mid-body (idle timeout)', async () => {
    let first = true;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = range ? Number(range[1]) : 0;
      const part = blob.subarray(start);
      res.writeHead(start ? 206 : 200, { 'content-length': part.length, ...(start ? { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}) });
      if (first) {
        first = false;
        res.write(part.subarray(0, 4096)); // then nothing, connection left open
        return;
      }
      res.end(part);
    });
    const got = await collect(await client(f.host, { timeoutMs: 200 }).getBlob('foo', digest, blob.length));
    expect(got.equals(blob)).toBe(true);
    expect(f.requests.at(-1)!.headers.range).toBe('bytes=4096-');
  });

  it('a blob longer than declared is refused (Content-Length up front, or while streaming)', async () => {
    const f1 = await blobServer({ extra: 10 });
    const e1 = await rejection(client(f1.host).getBlob('foo', digest, blob.length));
    expect(e1.code).toBe('hostile-content');
    const f2 = await blobServer({ extra: 10, chunked: true });
    const e2 = await rejection(collect(await client(f2.host).getBlob('foo', digest, blob.length)));
    expect(e2.code).toBe('hostile-content');
    expect(e2.message).toMatch(/more than the declared size/);
  });

  it('a blob with the wrong bytes fails its digest check', async () => {
    const f = await blobServer();
    const wrong = `sha256:${'3'.repeat(64)}`;
    const e = await rejection(collect(await client(f.host).getBlob('foo', wrong, blob.length)));
    expect(e.code).toBe('digest-mismatch');
  });

  it('getBlobBuffer caps and verifies', async () => {
    const f = await blobServer();
    expect((await client(f.host).getBlobBuffer('foo', digest, 2 << 20)).equals(blob)).toBe(true);
    expect((await rejection(client(f.host).getBlobBuffer('foo', digest, 1000))).code).toBe('hostile-content');
  });

  it('a cross-origin redirect drops Authorization; same-origin keeps it', async () => {
    const cdn = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': blob.length });
      res.end(blob);
    });
    const good = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== good) return regError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="r"' });
      if (req.url === '/v2/') return res.end('{}');
      if (req.url!.startsWith('/v2/foo/blobs/')) {
        res.writeHead(307, { location: `/local/${digest}` });
        return res.end();
      }
      if (req.url!.startsWith('/local/')) {
        res.writeHead(302, { location: `http://127.0.0.1:${cdn.port}/cdn/blob?sig=1` });
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
    const got = await collect(await client(reg.host, { credentials: { username: 'u', password: 'p' } }).getBlob('foo', digest, blob.length));
    expect(got.equals(blob)).toBe(true);
    expect(reg.requests.find((r) => r.url.startsWith('/local/'))!.headers.authorization).toBe(good);
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('blobExists', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      res.writeHead(req.url!.includes('1111') ? 200 : 404, { 'content-length': 0 });
      res.end();
    });
    const c = client(f.host);
    expect(await c.blobExists('foo', `sha256:${'1'.repeat(64)}`)).toBe(true);
    expect(await c.blobExists('foo', `sha256:${'2'.repeat(64)}`)).toBe(false);
    expect(f.requests.at(-1)!.method).toBe('HEAD');
  });
});

describe('push', () => {
  it('uploads a blob, mounts, and puts a manifest', async () => {
    const stored = new Map<string, Buffer>();
    const f = await fake((req, res, body) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/v2/') return res.end('{}');
      if (req.method === 'POST' && url.pathname === '/v2/dst/blobs/uploads/') {
        if (url.searchParams.get('mount')) {
          const ok = stored.has(url.searchParams.get('mount')!);
          res.writeHead(ok ? 201 : 202, ok ? {} : { location: '/v2/dst/blobs/uploads/cancel-me' });
          return res.end();
        }
        res.writeHead(202, { location: '/v2/dst/blobs/uploads/abc?_state=xyz' });
        return res.end();
      }
      if (req.method === 'PUT' && url.pathname === '/v2/dst/blobs/uploads/abc') {
        expect(url.searchParams.get('_state')).toBe('xyz');
        stored.set(url.searchParams.get('digest')!, body);
        res.writeHead(201);
        return res.end();
      }
      if (req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'PUT' && url.pathname === '/v2/dst/manifests/v1') {
        expect(req.headers['content-type']).toBe(MEDIA_TYPE.dockerManifest);
        res.writeHead(201);
        return res.end();
      }
      res.writeHead(400);
      res.end();
    });
    const c = client(f.host);
    const data = Buffer.from('hello layer');
    await c.uploadBlob('dst', sha(data), data.length, Readable.from([data]));
    expect(stored.get(sha(data))!.equals(data)).toBe(true);
    expect(await c.mountBlob('dst', sha(data), 'src')).toBe(true);
    expect(await c.mountBlob('dst', `sha256:${'7'.repeat(64)}`, 'src')).toBe(false);
    expect(f.requests.some((r) => r.method === 'DELETE')).toBe(true);
    expect(await c.putManifest('dst', 'v1', manifestBytes, MEDIA_TYPE.dockerManifest)).toBe(sha(manifestBytes));
  });
});

describe('proxies', () => {
  it('NO_PROXY forms', () => {
    const u = new URL('https://reg.example.com:5000/v2/');
    expect(noProxyMatches(u, '*')).toBe(true);
    expect(noProxyMatches(u, 'example.com')).toBe(true);
    expect(noProxyMatches(u, '.example.com')).toBe(true);
    expect(noProxyMatches(u, '*.example.com')).toBe(true);
    expect(noProxyMatches(u, 'reg.example.com:5000')).toBe(true);
    expect(noProxyMatches(u, 'reg.example.com:443')).toBe(false);
    expect(noProxyMatches(u, 'other.com, ample.com')).toBe(false);
    expect(noProxyMatches(new URL('http://10.1.2.3/'), '10.0.0.0/8')).toBe(true);
    expect(noProxyMatches(new URL('http://10.1.2.3/'), '10.1.2.3')).toBe(true);
  });

  it('proxy selection, upper and lower case; loopback never proxied', () => {
    const env = { HTTPS_PROXY: 'proxy.local:3128', http_proxy: 'http://p2.local:8080', NO_PROXY: 'internal.example' };
    expect(proxyForUrl(new URL('https://quay.io/v2/'), env)?.href).toBe('http://proxy.local:3128/');
    expect(proxyForUrl(new URL('http://quay.io/v2/'), env)?.href).toBe('http://p2.local:8080/');
    expect(proxyForUrl(new URL('https://internal.example/v2/'), env)).toBeUndefined();
    expect(proxyForUrl(new URL('https://127.0.0.1:5000/v2/'), env)).toBeUndefined();
    expect(proxyForUrl(new URL('https://localhost:5000/v2/'), env)).toBeUndefined();
    expect(proxyForUrl(new URL('https://[::1]:5000/v2/'), env)).toBeUndefined();
  });

  it('http goes through the proxy in absolute form; https asks for a CONNECT tunnel', async () => {
    const proxy = await fake((req, res) => {
      if (req.url === 'http://registry.test/v2/') return res.end('{}');
      sendManifest(res);
    });
    const connects: string[] = [];
    proxy.server.on('connect', (req: http.IncomingMessage, socket: import('node:net').Socket) => {
      connects.push(req.url!);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    const env = { HTTP_PROXY: `http://user:pw@${proxy.host}`, HTTPS_PROXY: `http://${proxy.host}` };
    const c = new RegistryClient({ registry: 'registry.test', insecure: true, env, backoffMs: 1, attempts: 1 });
    await c.getManifest('foo', 'latest');
    expect(connects).toEqual(['registry.test:443']);
    expect(proxy.requests.map((r) => r.url)).toEqual(['http://registry.test/v2/', 'http://registry.test/v2/foo/manifests/latest']);
    expect(proxy.requests[0]!.headers.host).toBe('registry.test');
    expect(proxy.requests[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('user:pw').toString('base64')}`);
  });
});
