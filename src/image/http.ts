// HTTP for the registry client, on node:http/node:https: proxies (CONNECT for https, absolute-form
// for http), NO_PROXY, timeouts, redirects that drop Authorization across origins, retries with
// exponential backoff for idempotent requests, capped body reads. Errors read like Go's net/http
// ones podman prints: `Get "https://h/v2/": dial tcp h:5000: connect: connection refused`.

import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Readable } from 'node:stream';
import { TspodError } from '../errors.js';
import { VERSION } from '../version.js';

export const DEFAULT_USER_AGENT = `tspod/${VERSION}`;

export interface HttpOptions {
  /** Skip TLS certificate verification (tls-verify=false / insecure registry). */
  insecureSkipVerify?: boolean;
  /** Idle timeout, connect included (ms). Default 30 s. */
  timeoutMs?: number;
  /** Proxy variables come from here; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A buffer (replayable) or a stream (sent once, never retried or redirected). */
  body?: Buffer | Readable;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** The URL that answered (after redirects). */
  url: URL;
}

/**
 * The trusted CAs when the user set NODE_EXTRA_CA_CERTS: Node's own roots plus the file's
 * certificates, as Node would have used them. The launcher passes the variable on as
 * _TSPOD_EXTRA_CA_CERTS because Node parses it at every start even when no TLS follows (36 ms
 * on these machines); here it is read once, at the first verified TLS connection. Like Node, a
 * file that cannot be read is ignored (undefined: Node's defaults).
 */
let extraCaCache: { file: string; ca: string[] | undefined; context?: tls.SecureContext } | undefined;
export function trustedCas(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  // Without the launcher (node run directly) Node itself has loaded NODE_EXTRA_CA_CERTS.
  const file = env._TSPOD_EXTRA_CA_CERTS;
  if (!file) return undefined;
  if (extraCaCache?.file === file) return extraCaCache.ca;
  let ca: string[] | undefined;
  try {
    const pems = readFileSync(file, 'latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (pems.length) ca = [...tls.rootCertificates, ...pems];
  } catch {
    ca = undefined;
  }
  extraCaCache = { file, ca };
  return ca;
}

let insecureContext: tls.SecureContext | undefined;

/** One TLS context for those CAs: building it parses every certificate (tens of ms). */
function trustedContext(env: NodeJS.ProcessEnv): tls.SecureContext | undefined {
  const ca = trustedCas(env);
  if (!ca) return undefined;
  extraCaCache!.context ??= tls.createSecureContext({ ca });
  return extraCaCache!.context;
}

const keepAliveHttp = new http.Agent({ keepAlive: true, maxSockets: 16 });
const keepAliveHttps = new https.Agent({ keepAlive: true, maxSockets: 16 });

const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ENETDOWN',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TSPOD_TIMEOUT',
  'TSPOD_READ_TIMEOUT',
  'TSPOD_SHORT_READ',
]);

/** Whether an error from this module is worth retrying (connection-level, not TLS or HTTP). */
export function isRetryableError(e: unknown): boolean {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
    if ((cur as Error).message === 'aborted') return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** Delay before retry `attempt` (0-based): base·2^attempt. */
export function backoffDelay(attempt: number, baseMs: number): number {
  return baseMs * 2 ** attempt;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function goMethod(m: string): string {
  return m.charAt(0) + m.slice(1).toLowerCase();
}

function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/** Wraps a socket-level error into a 'network' TspodError in Go's words. */
export function networkError(method: string, url: URL, e: unknown): TspodError {
  if (e instanceof TspodError) return e;
  const err = e as NodeJS.ErrnoException;
  const where = `${goMethod(method)} "${url.href}"`;
  const addr = hostPort(url);
  let detail: string;
  switch (err.code) {
    case 'ECONNREFUSED':
      detail = `dial tcp ${addr}: connect: connection refused`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      detail = `dial tcp: lookup ${url.hostname}: no such host`;
      break;
    case 'ECONNRESET':
      detail = `read tcp ${addr}: read: connection reset by peer`;
      break;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      detail = `dial tcp ${addr}: connect: no route to host`;
      break;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      detail = 'http: server gave HTTP response to HTTPS client';
      break;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      detail = `tls: failed to verify certificate: x509: certificate signed by unknown authority (${err.message})`;
      break;
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      detail = `tls: failed to verify certificate: x509: certificate has expired or is not yet valid (${err.message})`;
      break;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      detail = `tls: failed to verify certificate: x509: ${err.message}`;
      break;
    case 'TSPOD_TIMEOUT':
      detail = `dial tcp ${addr}: i/o timeout`;
      break;
    case 'TSPOD_READ_TIMEOUT':
      detail = `read tcp ${addr}: i/o timeout`;
      break;
    default:
      detail = err?.message ?? String(e);
  }
  if (/wrong version number|packet length too long|unknown protocol/.test(err?.message ?? '')) {
    detail = 'http: server gave HTTP response to HTTPS client';
  }
  return new TspodError('network', `${where}: ${detail}`, { cause: e });
}

// ---------------------------------------------------------------------------------------------
// Proxies

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

function envAny(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v) return v;
  }
  return undefined;
}

/** Whether NO_PROXY excludes this URL: `*`, host, .domain, *.domain, host:port, IP, IPv4 CIDR. */
export function noProxyMatches(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [ip, bits] = entry.split('/');
      if (net.isIPv4(ip!) && net.isIPv4(host)) {
        const bl = new net.BlockList();
        bl.addSubnet(ip!, Number(bits), 'ipv4');
        if (bl.check(host, 'ipv4')) return true;
      }
      continue;
    }
    let ehost = entry;
    let eport: string | undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.startsWith('[') ? entry.replace(/^\[([^\]]*)\](.*)$/, '$1$2') : entry);
    if (m && !net.isIPv6(entry)) {
      ehost = m[1]!;
      eport = m[2];
    }
    if (eport !== undefined && eport !== port) continue;
    if (ehost.startsWith('*.')) ehost = ehost.slice(1);
    if (ehost.startsWith('.')) {
      if (host.endsWith(ehost)) return true;
    } else if (host === ehost || host.endsWith(`.${ehost}`)) {
      return true;
    }
  }
  return false;
}

/** The proxy for a URL per HTTP(S)_PROXY / NO_PROXY, or undefined. Loopback is never proxied. */
export function proxyForUrl(url: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  if (isLoopback(url.hostname)) return undefined;
  const raw = url.protocol === 'https:' ? envAny(env, 'HTTPS_PROXY', 'https_proxy') : envAny(env, 'HTTP_PROXY', 'http_proxy');
  if (!raw) return undefined;
  const noProxy = envAny(env, 'NO_PROXY', 'no_proxy');
  if (noProxy && noProxyMatches(url, noProxy)) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new TspodError('config', 'invalid proxy address in HTTP(S)_PROXY');
  }
  if (proxy.protocol !== 'http:') throw new TspodError('unsupported', `proxy scheme ${proxy.protocol} is not supported, use an http:// proxy`);
  return proxy;
}

function proxyAuthHeader(proxy: URL): string | undefined {
  if (!proxy.username) return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

function connectTunnel(proxy: URL, target: URL, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: hostPort(target) };
    const pa = proxyAuthHeader(proxy);
    if (pa) headers['proxy-authorization'] = pa;
    const req = http.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || 80,
      method: 'CONNECT',
      path: hostPort(target),
      headers,
      timeout: timeoutMs,
      agent: false,
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new TspodError('network', `proxy ${proxy.host} refused CONNECT to ${hostPort(target)}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      resolve(socket);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('proxy connect timeout'), { code: 'TSPOD_TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// One request

/** Sends one request; no redirects, no retries. The caller consumes or destroys `body`. */
export async function sendOnce(req: HttpRequest, opts: HttpOptions = {}): Promise<HttpResponse> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const url = req.url;
  const isHttps = url.protocol === 'https:';
  if (!isHttps && url.protocol !== 'http:') throw new TspodError('unsupported', `unsupported URL scheme in ${url.href}`);
  // Host without a default port, as Go sends it (Node adds :443 when it dials through a tunnel).
  const headers: Record<string, string> = { 'user-agent': DEFAULT_USER_AGENT, host: url.host, ...req.headers };
  if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
  const proxy = proxyForUrl(url, opts.env ?? process.env);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');

  const options: https.RequestOptions = {
    method: req.method,
    host: hostname,
    port: url.port || (isHttps ? 443 : 80),
    path: url.pathname + url.search,
    headers,
    timeout: timeoutMs,
  };
  // Certificates matter only when they are verified. Unverified (--tls-verify=false, which also
  // probes https before http) gets a context without any: loading Node's ~140 roots into a store
  // cost ~18 ms of such a call.
  const secureContext = !isHttps ? undefined : opts.insecureSkipVerify ? (insecureContext ??= tls.createSecureContext({ ca: [] })) : trustedContext(opts.env ?? process.env);
  if (isHttps) {
    options.rejectUnauthorized = !opts.insecureSkipVerify;
    options.servername = net.isIP(hostname) ? undefined : hostname;
    if (secureContext) (options as tls.ConnectionOptions).secureContext = secureContext;
  }
  if (proxy && isHttps) {
    let socket: net.Socket;
    try {
      socket = await connectTunnel(proxy, url, timeoutMs);
    } catch (e) {
      throw networkError(req.method, url, e);
    }
    const tlsSocket = tls.connect({
      socket,
      servername: net.isIP(hostname) ? undefined : hostname,
      rejectUnauthorized: !opts.insecureSkipVerify,
      ...(secureContext && { secureContext }),
    });
    // No agent: with one, Node ignores createConnection and dials the target itself.
    options.agent = undefined;
    options.createConnection = () => tlsSocket;
  } else if (proxy) {
    options.host = proxy.hostname.replace(/^\[|\]$/g, '');
    options.port = proxy.port || 80;
    options.path = url.href;
    options.agent = false;
    headers.host = url.host;
    const pa = proxyAuthHeader(proxy);
    if (pa) headers['proxy-authorization'] = pa;
  } else {
    options.agent = isHttps ? keepAliveHttps : keepAliveHttp;
  }

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let response: http.IncomingMessage | undefined;
    const creq = (isHttps ? https : http).request(options);
    creq.on('timeout', () => {
      const connected = creq.socket !== null && creq.socket !== undefined && !creq.socket.connecting;
      const err = Object.assign(new Error('timeout'), { code: connected ? 'TSPOD_READ_TIMEOUT' : 'TSPOD_TIMEOUT' });
      const wrapped = new TspodError(
        'network',
        response
          ? `${goMethod(req.method)} "${url.href}": reading response: no data received for ${Math.round(timeoutMs / 1000)}s (timeout)`
          : networkError(req.method, url, err).message,
        { cause: err },
      );
      if (response) response.destroy(wrapped);
      creq.destroy(wrapped);
    });
    creq.on('error', (e) => {
      if (settled) return;
      settled = true;
      reject(networkError(req.method, url, e));
    });
    creq.on('response', (res) => {
      response = res;
      settled = true;
      // Consumers attach their own listeners; this one keeps an unread body that fails from crashing.
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
    });
    const body = req.body;
    if (body === undefined) creq.end();
    else if (Buffer.isBuffer(body)) creq.end(body);
    else {
      body.on('error', (e) => creq.destroy(e));
      body.pipe(creq);
    }
  });
}

/** Reads a whole body, refusing more than `max` bytes (checks Content-Length first). */
export async function readBody(res: HttpResponse, max: number, what = 'response body'): Promise<Buffer> {
  const cl = res.headers['content-length'];
  if (cl !== undefined && Number(cl) > max) {
    res.body.destroy();
    throw new TspodError('hostile-content', `${what} is too large: ${cl} bytes, more than the ${max} allowed`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > max) {
        res.body.destroy();
        throw new TspodError('hostile-content', `${what} is too large: more than the ${max} bytes allowed`);
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof TspodError) throw e;
    throw networkError('GET', res.url, e);
  }
  return Buffer.concat(chunks, n);
}

/** Discards a response body without reading it into memory. */
export function discard(res: HttpResponse): void {
  res.body.resume();
  res.body.on('error', () => {});
}

export function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.hostname === b.hostname && hostPort(a) === hostPort(b);
}

export interface SendOptions extends HttpOptions {
  /** Attempts for idempotent requests (GET/HEAD with a replayable body); default 3. */
  attempts?: number;
  /** Backoff base; default 200 ms. */
  backoffMs?: number;
  /** Follow redirects for GET/HEAD; default true. */
  followRedirects?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Sends a request following redirects (GET/HEAD only) and retrying idempotent ones on connection
 * errors, 5xx and 429. On a redirect to another origin the Authorization header is dropped, and TLS
 * verification is only relaxed for the original host.
 */
export async function send(req: HttpRequest, opts: SendOptions = {}): Promise<HttpResponse> {
  const idempotent = (req.method === 'GET' || req.method === 'HEAD') && (req.body === undefined || Buffer.isBuffer(req.body));
  const attempts = idempotent ? (opts.attempts ?? 3) : 1;
  const base = opts.backoffMs ?? 200;
  for (let attempt = 0; ; attempt++) {
    let res: HttpResponse;
    try {
      res = await sendFollowing(req, opts);
    } catch (e) {
      if (attempt + 1 < attempts && isRetryableError(e)) {
        await sleep(backoffDelay(attempt, base));
        continue;
      }
      throw e;
    }
    if (attempt + 1 < attempts && (res.status >= 500 || res.status === 429)) {
      discard(res);
      let delay = backoffDelay(attempt, base);
      const ra = Number(res.headers['retry-after']);
      if (res.status === 429 && Number.isFinite(ra) && ra > 0) delay = Math.min(Math.max(delay, ra * 1000), 10_000);
      await sleep(delay);
      continue;
    }
    return res;
  }
}

async function sendFollowing(req: HttpRequest, opts: SendOptions): Promise<HttpResponse> {
  const follow = (opts.followRedirects ?? true) && (req.method === 'GET' || req.method === 'HEAD');
  const origin = req.url;
  let url = req.url;
  let headers = { ...(req.headers ?? {}) };
  for (let hops = 0; ; hops++) {
    const insecure = opts.insecureSkipVerify && url.hostname === origin.hostname;
    const res = await sendOnce({ ...req, url, headers }, { ...opts, insecureSkipVerify: insecure });
    if (!follow || !REDIRECTS.has(res.status) || !res.headers.location) return res;
    discard(res);
    if (hops >= 10) throw new TspodError('network', `${goMethod(req.method)} "${req.url.href}": stopped after 10 redirects`);
    let next: URL;
    try {
      next = new URL(res.headers.location, url);
    } catch {
      throw new TspodError('registry', `${goMethod(req.method)} "${url.href}": invalid redirect location`);
    }
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      throw new TspodError('registry', `${goMethod(req.method)} "${url.href}": redirect to unsupported scheme ${next.protocol}`);
    }
    if (url.protocol === 'https:' && next.protocol === 'http:' && !opts.insecureSkipVerify) {
      throw new TspodError('registry', `${goMethod(req.method)} "${url.href}": refusing redirect from https to ${next.href}`);
    }
    if (!sameOrigin(origin, next)) {
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'authorization') h[k] = v;
      headers = h;
    }
    url = next;
  }
}
