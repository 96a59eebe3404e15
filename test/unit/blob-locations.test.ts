import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobLocations } from '../../src/storage/blob-locations.js';

const dir = mkdtempSync(join(tmpdir(), 'tspod-bl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BlobLocations', () => {
  it('records repositories per registry, newest first, without duplicates', () => {
    const b = BlobLocations.forStore(dir);
    expect(b.repositories('sha256:a', 'r:5000')).toEqual([]);
    b.record(['sha256:a', 'sha256:b'], 'r:5000', 'one');
    b.record(['sha256:a'], 'other:5000', 'x');
    b.record(['sha256:a'], 'r:5000', 'two');
    b.record(['sha256:a'], 'r:5000', 'one');
    expect(b.repositories('sha256:a', 'r:5000')).toEqual(['one', 'two']);
    expect(b.repositories('sha256:a', 'other:5000')).toEqual(['x']);
    expect(b.repositories('sha256:b', 'r:5000')).toEqual(['one']);
  });
  it('a damaged file is an empty cache', () => {
    const f = join(dir, 'cache', 'blob-locations.json');
    writeFileSync(f, '{not json');
    const b = BlobLocations.forStore(dir);
    expect(b.repositories('sha256:a', 'r:5000')).toEqual([]);
    writeFileSync(f, JSON.stringify({ 'sha256:a': [7, 'r:5000/', 'r:5000/ok'] }));
    expect(b.repositories('sha256:a', 'r:5000')).toEqual(['ok']);
  });
  it('keeps at most 8 locations per digest', () => {
    const b = BlobLocations.forStore(join(dir, 'cap'));
    for (let i = 0; i < 12; i++) b.record(['sha256:c'], 'r', `repo${i}`);
    const got = b.repositories('sha256:c', 'r');
    expect(got).toHaveLength(8);
    expect(got[0]).toBe('repo11');
  });
});
