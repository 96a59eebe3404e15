// Platforms: --platform os/arch[/variant], --os/--arch/--variant, the host's platform in Go's names,
// and choosing an image from a manifest list or OCI index.

import { TspodError } from '../errors.js';
import { type Descriptor, type ImageIndex, type Platform, isIndexMediaType, isManifestMediaType } from './manifest.js';

export type { Platform } from './manifest.js';

const NODE_TO_GO_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le', // Node reports ppc64 on little-endian Linux too
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mipsel: 'mipsle',
  loong64: 'loong64',
};

const NODE_TO_GO_OS: Record<string, string> = { linux: 'linux', darwin: 'darwin', win32: 'windows', freebsd: 'freebsd' };

/** Go's name for an architecture alias (x86_64 → amd64, aarch64 → arm64, ...), with implied variant. */
export function normalizeArch(arch: string, variant?: string): { architecture: string; variant?: string } {
  const a = arch.toLowerCase();
  let v = variant?.toLowerCase() || undefined;
  switch (a) {
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return v && v !== 'v1' ? { architecture: 'amd64', variant: v } : { architecture: 'amd64' };
    case 'i386':
    case 'i686':
    case '386':
      return { architecture: '386' };
    case 'aarch64':
    case 'arm64':
      if (v === '8' || v === 'v8') v = 'v8';
      return v ? { architecture: 'arm64', variant: v } : { architecture: 'arm64' };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v && /^\d+$/.test(v)) v = `v${v}`;
      return v ? { architecture: 'arm', variant: v } : { architecture: 'arm' };
    default:
      return v ? { architecture: a, variant: v } : { architecture: a };
  }
}

/** The default variant an architecture implies when none is given. */
export function defaultVariant(architecture: string): string | undefined {
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return undefined;
}

/** The host's platform in Go's names (x64 → amd64; arm64 → arm64/v8; arm → arm/v7). */
export function hostPlatform(): Platform {
  const os = NODE_TO_GO_OS[process.platform] ?? process.platform;
  const architecture = NODE_TO_GO_ARCH[process.arch] ?? process.arch;
  let variant = defaultVariant(architecture);
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    if (typeof v === 'string' || typeof v === 'number') variant = `v${v}`;
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Parses `--platform os/arch[/variant]`. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw new TspodError('invalid-argument', `invalid platform syntax for --platform=${JSON.stringify(s)}: use os/arch[/variant]`);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  const n = normalizeArch(arch, variant);
  const p: Platform = { os: os.toLowerCase(), architecture: n.architecture };
  if (n.variant) p.variant = n.variant;
  return p;
}

export interface PlatformOptions {
  platform?: string;
  os?: string;
  arch?: string;
  variant?: string;
}

/**
 * The wanted platform from --platform / --os / --arch / --variant with the host's values for what
 * is not given. `variant` is set only when the user gave one; matching applies the defaults.
 */
export function resolvePlatform(opts: PlatformOptions = {}): Platform {
  if (opts.platform) {
    if (opts.os || opts.arch) throw new TspodError('invalid-argument', '--platform option can not be specified with --arch or --os');
    const p = parsePlatform(opts.platform);
    if (opts.variant) p.variant = normalizeArch(p.architecture, opts.variant).variant;
    return p;
  }
  const host = hostPlatform();
  const os = (opts.os || host.os).toLowerCase();
  const n = normalizeArch(opts.arch || host.architecture, opts.variant);
  const p: Platform = { os, architecture: n.architecture };
  if (n.variant) p.variant = n.variant;
  return p;
}

/** The variants acceptable for a wanted platform, best first; '' means "no variant given". */
function acceptableVariants(architecture: string, variant: string | undefined): string[] {
  if (architecture === 'arm64') {
    const v = variant ?? 'v8';
    return v === 'v8' ? ['v8', ''] : [v, ''];
  }
  if (architecture === 'arm') {
    const v = variant ?? 'v7';
    const n = /^v(\d+)$/.exec(v);
    const list = [v];
    if (n) for (let i = Number(n[1]) - 1; i >= 5; i--) list.push(`v${i}`);
    list.push('');
    return list;
  }
  if (architecture === 'amd64') return variant && variant !== 'v1' ? [variant, ''] : ['', 'v1'];
  return variant ? [variant, ''] : [''];
}

function entryVariant(p: Platform): string {
  const n = normalizeArch(p.architecture, p.variant);
  return n.variant ?? (n.architecture === 'amd64' && p.variant === 'v1' ? 'v1' : '');
}

/** Whether an image's platform (from an index entry or a config) satisfies the wanted one. */
export function platformMatches(have: Platform, want: Platform): boolean {
  if (have.os.toLowerCase() !== want.os.toLowerCase()) return false;
  const h = normalizeArch(have.architecture);
  const w = normalizeArch(want.architecture, want.variant);
  if (h.architecture !== w.architecture) return false;
  return acceptableVariants(w.architecture, w.variant).includes(entryVariant(have));
}

/**
 * Chooses the manifest for `want` from an index: exact os/arch, then compatible variants in order.
 * Entries with unknown media types or no platform are skipped. `source` (docker://…) goes in the
 * error, which uses podman's wording.
 */
export function selectManifest(index: ImageIndex, want: Platform, source: string): Descriptor {
  const w = normalizeArch(want.architecture, want.variant);
  const usable = index.manifests.filter(
    (d) => d.platform !== undefined && (isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)),
  );
  for (const v of acceptableVariants(w.architecture, w.variant)) {
    const hit = usable.find(
      (d) =>
        d.platform!.os.toLowerCase() === want.os.toLowerCase() &&
        normalizeArch(d.platform!.architecture).architecture === w.architecture &&
        entryVariant(d.platform!) === v,
    );
    if (hit) return hit;
  }
  throw new TspodError(
    'unsupported',
    `choosing an image from manifest list ${source}: no image found in manifest list for architecture "${want.architecture}", variant "${want.variant ?? ''}", OS "${want.os}"`,
  );
}

/** `os/arch[/variant]` for messages. */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}
