import { describe, expect, it } from 'vitest';
import {
  MEDIA_TYPE,
  checkImageManifest,
  layerCompression,
  parseImageConfig,
  parseManifest,
  type ImageIndex,
} from '../../src/image/manifest.js';
import { normalizeArch, parsePlatform, resolvePlatform, selectManifest, hostPlatform } from '../../src/image/platform.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const j = (o: unknown) => Buffer.from(JSON.stringify(o));

const dockerManifest = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPE.dockerManifest,
  config: { mediaType: MEDIA_TYPE.dockerConfig, digest: d('1'), size: 100 },
  layers: [{ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: d('2'), size: 2000 }],
};

function entry(arch: string, variant: string | undefined, c: string, mediaType: string = MEDIA_TYPE.ociManifest, os = 'linux') {
  const platform: Record<string, string> = { os, architecture: arch };
  if (variant !== undefined) platform.variant = variant;
  return { mediaType, digest: d(c), size: 500, platform };
}

function index(manifests: unknown[]): ImageIndex {
  return parseManifest(j({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests }), MEDIA_TYPE.ociIndex) as ImageIndex;
}

describe('parseManifest', () => {
  it('parses a docker schema 2 manifest', () => {
    const m = parseManifest(j(dockerManifest), MEDIA_TYPE.dockerManifest);
    expect(m.kind).toBe('manifest');
    if (m.kind !== 'manifest') return;
    expect(m.layers[0]!.digest).toBe(d('2'));
    checkImageManifest(m);
  });

  it('an OCI manifest may omit mediaType: the Content-Type says it', () => {
    const { mediaType: _, ...doc } = { ...dockerManifest, config: { mediaType: MEDIA_TYPE.ociConfig, digest: d('1'), size: 1 } };
    const m = parseManifest(j(doc), `${MEDIA_TYPE.ociManifest}; charset=utf-8`);
    expect(m.mediaType).toBe(MEDIA_TYPE.ociManifest);
  });

  it('a document mediaType disagreeing with Content-Type is refused', () => {
    expect(() => parseManifest(j(dockerManifest), MEDIA_TYPE.ociIndex)).toThrow(expect.objectContaining({ code: 'hostile-content' }));
  });

  it('a generic Content-Type defers to the document', () => {
    expect(parseManifest(j(dockerManifest), 'application/json').mediaType).toBe(MEDIA_TYPE.dockerManifest);
  });

  it('no media type anywhere is refused', () => {
    const { mediaType: _, ...doc } = dockerManifest;
    expect(() => parseManifest(j(doc), 'application/octet-stream')).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });

  it('refuses documents that are both manifest and index (CVE-2021-41190)', () => {
    const both = { ...dockerManifest, manifests: [] };
    expect(() => parseManifest(j(both), MEDIA_TYPE.dockerManifest)).toThrow(/ambiguous/);
    const idx = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [], layers: [] };
    expect(() => parseManifest(j(idx), MEDIA_TYPE.ociIndex)).toThrow(expect.objectContaining({ code: 'hostile-content' }));
    const { mediaType: _, ...noType } = { ...idx };
    expect(() => parseManifest(j(noType), MEDIA_TYPE.ociIndex)).toThrow(/ambiguous/);
  });

  it('refuses schema 1 as unsupported', () => {
    expect(() => parseManifest(j({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), MEDIA_TYPE.dockerSchema1Signed)).toThrow(
      expect.objectContaining({ code: 'unsupported' }),
    );
  });

  it('validates descriptors', () => {
    const bad = (layer: unknown) => parseManifest(j({ ...dockerManifest, layers: [layer] }), MEDIA_TYPE.dockerManifest);
    expect(() => bad({ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: 'sha256:../../x', size: 1 })).toThrow(expect.objectContaining({ code: 'hostile-content' }));
    expect(() => bad({ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: d('A'), size: 1 })).toThrow(expect.objectContaining({ code: 'hostile-content' }));
    expect(() => bad({ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: d('3'), size: -1 })).toThrow(/invalid size/);
    expect(() => bad({ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: d('3'), size: 2 ** 60 })).toThrow(/invalid size/);
    expect(() => bad({ mediaType: MEDIA_TYPE.dockerLayerGzip, digest: d('3'), size: '1' })).toThrow(/invalid size/);
    expect(() => bad({ digest: d('3'), size: 1 })).toThrow(/no media type/);
    expect(() => bad({ mediaType: 'x', digest: `sha512:${'a'.repeat(128)}`, size: 1 })).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });

  it('checks layer media types', () => {
    expect(layerCompression(MEDIA_TYPE.ociLayerZstd)).toBe('zstd');
    expect(layerCompression(MEDIA_TYPE.ociLayer)).toBe('none');
    expect(layerCompression(MEDIA_TYPE.ociLayerNondistributableGzip)).toBe('gzip');
    const m = parseManifest(j({ ...dockerManifest, layers: [{ mediaType: 'application/x-evil', digest: d('2'), size: 1 }] }), MEDIA_TYPE.dockerManifest);
    if (m.kind !== 'manifest') throw new Error('kind');
    expect(() => checkImageManifest(m)).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });

  it('caps documents at 4 MiB', () => {
    const big = Buffer.alloc((4 << 20) + 1, 0x20);
    expect(() => parseManifest(big, MEDIA_TYPE.dockerManifest)).toThrow(/too large/);
  });
});

describe('parseImageConfig', () => {
  const config = {
    architecture: 'arm64',
    os: 'linux',
    variant: 'v8',
    created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], Labels: { a: 'b' }, ExposedPorts: { '80/tcp': {} } },
    rootfs: { type: 'layers', diff_ids: [d('4'), d('5')] },
    history: [{ created_by: 'ADD x' }, { created_by: 'ENV', empty_layer: true }, { created_by: 'RUN' }],
  };
  it('parses', () => {
    const c = parseImageConfig(j(config), { layerCount: 2 });
    expect(c.architecture).toBe('arm64');
    expect(c.variant).toBe('v8');
    expect(c.config.Cmd).toEqual(['/bin/sh']);
    expect(c.rootfs.diff_ids).toHaveLength(2);
    expect(c.history[1]!.empty_layer).toBe(true);
  });
  it('diff_ids must match the layers and be sha256', () => {
    expect(() => parseImageConfig(j(config), { layerCount: 3 })).toThrow(/2 diff IDs but the manifest has 3 layers/);
    expect(() => parseImageConfig(j({ ...config, rootfs: { type: 'layers', diff_ids: ['sha256:x'] } }))).toThrow(expect.objectContaining({ code: 'hostile-content' }));
  });
  it('type-checks fields', () => {
    expect(() => parseImageConfig(j({ ...config, config: { Cmd: 'sh' } }))).toThrow(/Cmd/);
    expect(() => parseImageConfig(j({ ...config, config: { Labels: { a: 1 } } }))).toThrow(/Labels/);
  });
});

describe('platforms', () => {
  it('parses --platform and normalises aliases', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm/7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(() => parsePlatform('linux')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => parsePlatform('linux/amd64/v2/x')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(normalizeArch('armhf')).toEqual({ architecture: 'arm', variant: 'v7' });
  });

  it('defaults come from the host', () => {
    const h = hostPlatform();
    expect(h.os).toBe('linux');
    expect(['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64']).toContain(h.architecture);
    if (process.arch === 'x64') expect(h).toEqual({ os: 'linux', architecture: 'amd64' });
    if (process.arch === 'arm64') expect(h).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(resolvePlatform({ arch: 'arm64' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(resolvePlatform({ os: 'linux', arch: 'arm', variant: 'v6' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
  });

  const idx = () =>
    index([
      entry('amd64', undefined, 'a'),
      { mediaType: 'application/vnd.example.unknown+json', digest: d('b'), size: 1, platform: { os: 'linux', architecture: 'arm64' } },
      entry('arm64', 'v8', 'c'),
      entry('arm', 'v6', 'd'),
      entry('arm', 'v7', 'e'),
      entry('unknown', undefined, 'f', MEDIA_TYPE.ociManifest, 'unknown'),
      entry('s390x', undefined, '9', MEDIA_TYPE.dockerManifest),
    ]);

  it('selects exact os/arch and variants, skipping unknown media types', () => {
    const src = 'docker://x';
    expect(selectManifest(idx(), { os: 'linux', architecture: 'amd64' }, src).digest).toBe(d('a'));
    expect(selectManifest(idx(), { os: 'linux', architecture: 'arm64' }, src).digest).toBe(d('c'));
    expect(selectManifest(idx(), { os: 'linux', architecture: 'arm64', variant: 'v8' }, src).digest).toBe(d('c'));
    expect(selectManifest(idx(), { os: 'linux', architecture: 'arm' }, src).digest).toBe(d('e'));
    expect(selectManifest(idx(), { os: 'linux', architecture: 'arm', variant: 'v6' }, src).digest).toBe(d('d'));
    expect(selectManifest(idx(), { os: 'linux', architecture: 's390x' }, src).digest).toBe(d('9'));
  });

  it('arm64 without variant in the index matches a v8 request; arm v7 falls back to v6', () => {
    const i = index([entry('arm64', undefined, '1'), entry('arm', 'v6', '2')]);
    expect(selectManifest(i, { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'docker://x').digest).toBe(d('1'));
    expect(selectManifest(i, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'docker://x').digest).toBe(d('2'));
    expect(() => selectManifest(i, { os: 'linux', architecture: 'arm', variant: 'v5' }, 'docker://x')).toThrow(/no image found/);
  });

  it('no match reads like podman', () => {
    const i = index([entry('amd64', undefined, '1'), { mediaType: 'application/x-unknown', digest: d('2'), size: 1, platform: { os: 'linux', architecture: 'arm64' } }]);
    expect(() => selectManifest(i, { os: 'linux', architecture: 'arm64' }, 'docker://127.0.0.1:5000/foo:latest')).toThrow(
      'choosing an image from manifest list docker://127.0.0.1:5000/foo:latest: no image found in manifest list for architecture "arm64", variant "", OS "linux"',
    );
    expect(() => selectManifest(i, { os: 'linux', architecture: 'arm64' }, 'docker://x')).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });
});
