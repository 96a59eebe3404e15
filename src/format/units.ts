// Sizes, durations and timestamps the way Podman prints and parses them: docker/go-units
// (HumanSize, BytesSize, HumanDuration, RAMInBytes, FromHumanSize) and Go's time formatting.

import { TspodError } from '../errors.js';
import { formatFloat } from './gofloat.js';

const DECIMAL_ABBRS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_ABBRS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, abbrs: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < abbrs.length - 1) {
    size /= base;
    i++;
  }
  return [size, abbrs[i]!];
}

/** go-units HumanSizeWithPrecision: `%.*g` + decimal unit, no space ("7.634MB", "1e+03kB"). */
export function humanSizeWithPrecision(bytes: number, precision: number): string {
  const [size, unit] = sizeAndUnit(bytes, 1000, DECIMAL_ABBRS);
  return formatFloat(size, 'g', precision) + unit;
}

/** go-units HumanSize: four significant digits, no space ("7.634MB"). Used by `system df`. */
export function goHumanSize(bytes: number): string {
  return humanSizeWithPrecision(bytes, 4);
}

/**
 * The SIZE column of `podman images`: three significant digits and a space before the unit
 * ("7.63 MB", "1.02 kB", "0 B").
 */
export function humanSize(bytes: number): string {
  const s = humanSizeWithPrecision(bytes, 3);
  const m = /^(.*\d)(\D*)$/.exec(s);
  return m ? `${m[1]} ${m[2]}` : s;
}

/** go-units BytesSize: binary units, four significant digits ("44KiB", "1.5GiB"). */
export function bytesSize(bytes: number): string {
  const [size, unit] = sizeAndUnit(bytes, 1024, BINARY_ABBRS);
  return formatFloat(size, 'g', 4) + unit;
}

/** go-units HumanDuration of a duration in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (!(seconds >= 1)) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** Podman's CREATED column: "2 hours ago". */
export function timeAgo(date: Date, now: Date = new Date()): string {
  return humanDuration(now.getTime() - date.getTime()) + ' ago';
}

const DECIMAL_MAP: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const BINARY_MAP: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

export interface ParseSizeOptions {
  /** FromHumanSize (k = 1000) instead of RAMInBytes (k = 1024, the default, as for --memory). */
  decimal?: boolean;
}

/** go-units RAMInBytes ("512k", "1g", "1.5GB", "10 MiB") or FromHumanSize with `decimal`. */
export function parseSize(text: string, opts: ParseSizeOptions = {}): number {
  const map = opts.decimal ? DECIMAL_MAP : BINARY_MAP;
  let num: string;
  let sfx: string;
  const space = text.indexOf(' ');
  if (space >= 0) {
    num = text.slice(0, space);
    sfx = text.slice(space + 1);
  } else {
    let sep = -1;
    for (let i = text.length - 1; i >= 0; i--) {
      if ('0123456789.'.includes(text[i]!)) {
        sep = i;
        break;
      }
    }
    if (sep === -1) throw new TspodError('invalid-argument', `invalid size: '${text}'`);
    num = text.slice(0, sep + 1);
    sfx = text.slice(sep + 1);
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) {
    throw new TspodError('invalid-argument', `strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  }
  let size = Number(num);
  if (size < 0) throw new TspodError('invalid-argument', `invalid size: '${text}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = (): TspodError => new TspodError('invalid-argument', `invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = map[sfx[0]!];
  if (mul === undefined) throw bad();
  size *= mul;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

// ---------------------------------------------------------------- time

export interface GoTimeOptions {
  /** Print in UTC instead of the process's local zone. */
  utc?: boolean;
}

interface Fields {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  offsetMin: number; // east of UTC
}

function fields(date: Date, utc: boolean): Fields {
  if (utc) {
    return {
      y: date.getUTCFullYear(),
      mo: date.getUTCMonth() + 1,
      d: date.getUTCDate(),
      h: date.getUTCHours(),
      mi: date.getUTCMinutes(),
      s: date.getUTCSeconds(),
      offsetMin: 0,
    };
  }
  return {
    y: date.getFullYear(),
    mo: date.getMonth() + 1,
    d: date.getDate(),
    h: date.getHours(),
    mi: date.getMinutes(),
    s: date.getSeconds(),
    offsetMin: -date.getTimezoneOffset(),
  };
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function ymdhms(f: Fields, sep: string): string {
  const year = f.y < 0 ? '-' + String(-f.y).padStart(4, '0') : String(f.y).padStart(4, '0');
  return `${year}-${p2(f.mo)}-${p2(f.d)}${sep}${p2(f.h)}:${p2(f.mi)}:${p2(f.s)}`;
}

/** ".123456789" with trailing zeros trimmed (Go's ".999999999" layout), or "" for zero. */
function fraction(date: Date, nanos: number | undefined): string {
  const ns = nanos ?? (((date.getTime() % 1000) + 1000) % 1000) * 1_000_000;
  if (!ns) return '';
  return '.' + String(Math.trunc(ns)).padStart(9, '0').replace(/0+$/, '');
}

function offsetText(min: number, colon: boolean): string {
  const sign = min < 0 ? '-' : '+';
  const a = Math.abs(min);
  return sign + p2(Math.trunc(a / 60)) + (colon ? ':' : '') + p2(a % 60);
}

/**
 * time.RFC3339Nano: "2024-01-02T03:04:05.123456789Z", "…+01:00" in a zone east of UTC.
 * `nanos` is the nanosecond within the second; by default it comes from the Date's milliseconds.
 */
export function formatRFC3339Nano(date: Date, nanos?: number, opts: GoTimeOptions = {}): string {
  const f = fields(date, opts.utc ?? false);
  const zone = f.offsetMin === 0 ? 'Z' : offsetText(f.offsetMin, true);
  return ymdhms(f, 'T') + fraction(date, nanos) + zone;
}

/** Go's Time.String(): "2024-01-02 03:04:05.123456789 +0000 UTC" (how Podman prints `.Created`). */
export function goTimeString(date: Date, nanos?: number, opts: GoTimeOptions = {}): string {
  const utc = opts.utc ?? false;
  const f = fields(date, utc);
  return `${ymdhms(f, ' ')}${fraction(date, nanos)} ${offsetText(f.offsetMin, false)} ${zoneAbbr(date, f.offsetMin, utc)}`;
}

function zoneAbbr(date: Date, offsetMin: number, utc: boolean): string {
  if (utc) return 'UTC';
  for (const locale of ['en-US', 'en-GB']) {
    try {
      const part = new Intl.DateTimeFormat(locale, { timeZoneName: 'short' })
        .formatToParts(date)
        .find((p) => p.type === 'timeZoneName')?.value;
      if (part && !/^(GMT|UTC)[+\-\u2212]/.test(part)) return part;
    } catch {
      break;
    }
  }
  // tzdata's numeric abbreviations for zones without a name: "+03", "+0530"
  const a = Math.abs(offsetMin);
  return (offsetMin < 0 ? '-' : '+') + p2(Math.trunc(a / 60)) + (a % 60 ? p2(a % 60) : '');
}
