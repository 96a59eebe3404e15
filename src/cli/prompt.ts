import type { Readable } from 'node:stream';

/** Reads one line from stdin (empty at EOF). */
export function readAnswer(stdin: Readable): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (): void => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      if (buf.includes('\n')) done();
    };
    stdin.on('data', onData);
    stdin.on('end', done);
    stdin.resume();
  });
}

/** Reads all of stdin (for --password-stdin). */
export async function readAll(stdin: Readable): Promise<string> {
  let s = '';
  for await (const chunk of stdin) s += chunk.toString();
  return s;
}
