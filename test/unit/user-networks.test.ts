import { describe, expect, it } from 'vitest';
import { formatUserMode, isUserNetworkMode, parseUserMode } from '../../src/engine/networks.js';

describe('user network mode strings', () => {
  it('round-trips networks and aliases', () => {
    const s = formatUserMode({ networks: ['a', 'b.c'], aliases: ['web', 'w_2'] });
    expect(s).toBe('bridge:a,b.c;aliases=web,w_2');
    expect(parseUserMode(s)).toEqual({ networks: ['a', 'b.c'], aliases: ['web', 'w_2'] });
    expect(parseUserMode('bridge:n1')).toEqual({ networks: ['n1'], aliases: [] });
  });
  it('only bridge: strings are user networks', () => {
    expect(isUserNetworkMode('bridge:n1')).toBe(true);
    for (const m of ['slirp4netns', 'pasta', 'none', 'host', 'container:abc', 'ns:/x', undefined]) expect(isUserNetworkMode(m)).toBe(false);
  });
});
