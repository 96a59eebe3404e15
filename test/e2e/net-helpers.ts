// Network helpers shared by the networking e2e files.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** One UDP round trip to 127.0.0.1:port; resolves to the answer (retried while the server starts). */
export async function udpEcho(port: number, msg: string, timeoutMs = 8000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const s = createSocket('udp4');
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      s.on('message', (m) => resolve(m.toString()));
      s.on('error', reject);
      const send = (): void => {
        if (Date.now() > deadline) return reject(new Error(`no UDP answer from 127.0.0.1:${port}`));
        s.send(msg, port, '127.0.0.1');
        timer = setTimeout(send, 300);
      };
      send();
    });
  } finally {
    clearTimeout(timer);
    s.close();
  }
}

/** A free port on 127.0.0.1 (bound to 0 and released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '0.0.0.0', r));
  const p = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return p;
}

/** Whether the host port can be bound (the published port has been let go). */
export async function canBind(port: number): Promise<boolean> {
  const srv = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => resolve(true));
  });
  if (ok) await new Promise((r) => srv.close(r));
  return ok;
}

/** GET from the test process, retried while the server in the container comes up. */
export async function get(url: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return await r.text();
      last = new Error(`HTTP ${r.status}`);
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`GET ${url}: ${String(last)}`);
}
