import { describe, expect, it } from 'vitest';
import { fuseIdMapping, keepIdEntries, keepIdFuseMappings, keepIdIds } from '../../src/runtime/keepid.js';

const ids = { uid: 1001, gid: 1001, subUidSize: 65536, subGidSize: 65536 };
const user = { name: 'alice', gecos: 'Alice A', home: '/home/alice', groupName: 'alice' };
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\n';
const GROUP = 'root:x:0:\ntester:x:1000:\n';

describe('keep-id ids and fuse-overlayfs mappings', () => {
  it('only keep-id modes have ids; uid=/gid= override the caller', () => {
    expect(keepIdIds(undefined, ids)).toBeUndefined();
    expect(keepIdIds('host', ids)).toBeUndefined();
    expect(keepIdIds('keep-id', ids)).toEqual({ uid: 1001, gid: 1001 });
    expect(keepIdIds('keep-id:uid=5,gid=6', ids)).toEqual({ uid: 5, gid: 6 });
  });

  it('the mapping is the container user namespace mapping, in fuse-overlayfs syntax', () => {
    expect(keepIdFuseMappings('keep-id', ids)).toEqual({ uid: '0:1:1001:1001:0:1:1002:1002:64535', gid: '0:1:1001:1001:0:1:1002:1002:64535' });
    expect(keepIdFuseMappings('', ids)).toBeUndefined();
    expect(fuseIdMapping([{ containerID: 0, hostID: 0, size: 1 }])).toBe('0:0:1');
  });
});

describe('keep-id passwd and group entries', () => {
  const base = { passwd: PASSWD, group: GROUP, user, uid: 1001, gid: 1001, mountDestinations: [], workdir: '/work' };

  it('adds the caller with the working directory as home when the home is not mounted', () => {
    const e = keepIdEntries(base);
    expect(e.passwd).toBe(`${PASSWD}alice:*:1001:1001:Alice A:/work:/bin/sh\n`);
    expect(e.group).toBe(`${GROUP}alice:x:1001:alice\n`);
  });

  it('uses the host home when it, or a parent other than /, is a mount destination', () => {
    expect(keepIdEntries({ ...base, mountDestinations: ['/home/alice'] }).passwd).toMatch(/:\/home\/alice:\/bin\/sh\n$/);
    expect(keepIdEntries({ ...base, mountDestinations: ['/home'] }).passwd).toMatch(/:\/home\/alice:\/bin\/sh\n$/);
    expect(keepIdEntries({ ...base, mountDestinations: ['/', '/home/alice/x'] }).passwd).toMatch(/:\/work:\/bin\/sh\n$/);
  });

  it('adds nothing when the name or the id exists already', () => {
    expect(keepIdEntries({ ...base, uid: 1000, gid: 1000 })).toEqual({});
    expect(keepIdEntries({ ...base, user: { ...user, name: 'tester', groupName: 'tester' } })).toEqual({});
  });

  it('host data cannot add fields or lines; a missing final newline is supplied', () => {
    const e = keepIdEntries({ ...base, passwd: 'root:x:0:0::/:/bin/sh', group: '', user: { ...user, gecos: 'a:b\nroot::0:0' } });
    expect(e.passwd).toBe('root:x:0:0::/:/bin/sh\nalice:*:1001:1001:abroot00:/work:/bin/sh\n');
    expect(e.group).toBe('alice:x:1001:alice\n');
  });
});
