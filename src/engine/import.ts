// import: a tarball (file, http(s) URL or stdin; plain, gzip or zstd) becomes a one-layer image, as
// `podman import` does. The layer goes through tspod-extract like any pulled layer. Also the
// `--change` parser shared with commit (Dockerfile instructions applied to an image config).
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { TspodError } from '../errors.js';
import { normalizeLocalName } from './images.js';
import { recordImage, sha256, storeLayer, synthesizeManifest } from './archive-store.js';
import { MEDIA_TYPE } from '../image/manifest.js';
import type { Engine } from './index.js';

export interface ImportOptions {
  changes: string[];
  message?: string;
}

type Config = Record<string, unknown> & {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  User?: string;
  WorkingDir?: string;
  StopSignal?: string;
  OnBuild?: string[];
};

const CHANGES = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

function jsonArray(v: string): string[] | undefined {
  if (!v.trimStart().startsWith('[')) return undefined;
  try {
    const a = JSON.parse(v) as unknown;
    if (Array.isArray(a) && a.every((x) => typeof x === 'string')) return a;
  } catch {
    /* shell form */
  }
  return undefined;
}

/** Splits `K=V K2="V 2"` (or `K V`) pairs. */
function pairs(v: string, what: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const t = v.trim();
  if (!t.includes('=')) {
    const sp = t.search(/\s/);
    if (sp === -1) throw new TspodError('invalid-argument', `${what} needs KEY=VALUE`);
    return [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of t.matchAll(re)) {
    let val = m[2]!;
    if (val.startsWith('"')) val = JSON.parse(val) as string;
    else if (val.startsWith("'")) val = val.slice(1, -1);
    out.push([m[1]!, val]);
  }
  return out;
}

/** Applies `--change` instructions (`CMD=/bin/sh`, `ENV A=b`, `EXPOSE 80/tcp`...) to a container config. */
export function applyChanges(config: Config, changes: string[]): Config {
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)([\s\S]*)$/.exec(change);
    const inst = m?.[1]?.toUpperCase();
    if (!m || !inst || !CHANGES.includes(inst)) {
      throw new TspodError('invalid-argument', `invalid change "${change}" - invalid instruction ${inst ?? change}`, {
        hint: `Supported: ${CHANGES.join(', ')}`,
      });
    }
    const v = m[2]!;
    switch (inst) {
      case 'CMD':
        config.Cmd = jsonArray(v) ?? ['/bin/sh', '-c', v];
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = jsonArray(v) ?? ['/bin/sh', '-c', v];
        break;
      case 'ENV': {
        const env = [...(config.Env ?? [])];
        for (const [k, val] of pairs(v, 'ENV')) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i === -1) env.push(`${k}=${val}`);
          else env[i] = `${k}=${val}`;
        }
        config.Env = env;
        break;
      }
      case 'LABEL':
        config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(pairs(v, 'LABEL')) };
        break;
      case 'EXPOSE': {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const p of v.trim().split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw new TspodError('invalid-argument', `invalid port "${p}" in EXPOSE`);
          ports[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        config.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(config.Volumes ?? {}) };
        for (const p of jsonArray(v) ?? v.trim().split(/\s+/)) vols[p] = {};
        config.Volumes = vols;
        break;
      }
      case 'USER':
        config.User = v.trim();
        break;
      case 'WORKDIR':
        config.WorkingDir = v.trim();
        break;
      case 'STOPSIGNAL':
        config.StopSignal = v.trim();
        break;
      case 'ONBUILD':
        config.OnBuild = [...(config.OnBuild ?? []), v.trim()];
        break;
    }
  }
  return config;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
}

async function openSource(source: string | Readable): Promise<Readable> {
  if (typeof source !== 'string') return source;
  if (/^https?:\/\//.test(source)) {
    // tspod's HTTP client (not fetch): proxies and the user's extra CAs apply as for registries
    const { send } = await import('../image/http.js');
    const res = await send({ method: 'GET', url: new URL(source) }).catch((e: Error) => {
      throw new TspodError('network', `fetching ${source}: ${e.message}`);
    });
    if (res.status !== 200) {
      res.body.resume();
      throw new TspodError('network', `fetching ${source}: ${res.status} ${res.body.statusMessage ?? ''}`.trim());
    }
    return res.body;
  }
  return createReadStream(source);
}

/** Imports a tarball as a one-layer image; returns the image ID. */
export async function importImage(engine: Engine, source: string | Readable, reference: string | undefined, opts: ImportOptions): Promise<string> {
  const store = engine.store();
  await store.gc();
  const name = reference ? normalizeLocalName(reference) : undefined;
  const config = applyChanges({}, opts.changes);
  const input = await openSource(source);
  const layer = await storeLayer(engine, input, undefined, undefined, `importing ${typeof source === 'string' ? source : 'stdin'}`);
  const size = store.layer(layer.chain)?.size ?? 0;
  const created = new Date().toISOString();
  const history: Record<string, unknown> = { created, created_by: `/bin/sh -c #(nop) ADD file:${layer.diffId.slice(7)} in /` };
  if (opts.message) history.comment = opts.message;
  const doc = {
    created,
    architecture: goArch(),
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [history],
  };
  const configBytes = Buffer.from(JSON.stringify(doc));
  const manifest = synthesizeManifest(configBytes, [{ digest: layer.diffId, size, mediaType: MEDIA_TYPE.ociLayer }]);
  const id = await recordImage(engine, configBytes, { bytes: manifest, mediaType: MEDIA_TYPE.ociManifest }, [layer.chain], name ? [name] : []);
  if (id !== sha256(configBytes).slice(7)) throw new TspodError('internal', 'image ID mismatch');
  return id;
}
