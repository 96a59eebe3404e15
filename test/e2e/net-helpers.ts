// Network helpers shared by the networking e2e files.
import { createSocket } from 'node:dgram';

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
