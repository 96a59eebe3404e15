import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadContainersConf } from '../../src/engine/config.js';
import { isTspodError } from '../../src/errors.js';

function home(): string {
  return mkdtempSync(join(tmpdir(), 'tspod-conf-'));
}

describe('containers.conf', () => {
  it('CONTAINERS_CONF overrides the shipped defaults key by key', async () => {
    const dir = home();
    const file = join(dir, 'c.conf');
    writeFileSync(file, '[engine]\nruntime = "runc"\n[storage]\ndriver = "vfs"\n');
    const conf = await loadContainersConf({ CONTAINERS_CONF: file, HOME: dir, TSPOD_HOME: process.cwd() }, true);
    expect(conf.engine.runtime).toBe('runc');
    expect(conf.storage.driver).toBe('vfs');
    // the shipped file's other keys survive
    expect(conf.engine.image_parallel_copies).toBe(4);
    expect(conf.files[conf.files.length - 1]).toBe(file);
  });

  it("the user's file and its drop-ins come after the shipped one, in lexical order", async () => {
    const dir = home();
    mkdirSync(join(dir, '.config', 'containers', 'containers.conf.d'), { recursive: true });
    writeFileSync(join(dir, '.config', 'containers', 'containers.conf'), '[engine]\nruntime = "crun"\n');
    writeFileSync(join(dir, '.config', 'containers', 'containers.conf.d', '10-a.conf'), '[engine]\nruntime = "a"\n');
    writeFileSync(join(dir, '.config', 'containers', 'containers.conf.d', '20-b.conf'), '[engine]\nruntime = "b"\n');
    const conf = await loadContainersConf({ HOME: dir, TSPOD_HOME: process.cwd() }, true);
    expect(conf.engine.runtime).toBe('b');
  });

  it('a syntax error names the file and the line', async () => {
    const dir = home();
    const file = join(dir, 'bad.conf');
    writeFileSync(file, '[engine]\nruntime = "runc"\nimage_parallel_copies = = 3\n');
    const err = await loadContainersConf({ CONTAINERS_CONF: file, HOME: dir, TSPOD_HOME: process.cwd() }, true).catch((e) => e);
    expect(isTspodError(err, 'config')).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`^parsing ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: `));
  });
});
