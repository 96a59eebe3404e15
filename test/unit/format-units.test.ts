import { afterEach, describe, expect, test } from 'vitest';
import { isTspodError } from '../../src/errors.js';
import {
  bytesSize,
  formatRFC3339Nano,
  goHumanSize,
  goTimeString,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
  parseSize,
  timeAgo,
} from '../../src/format/units.js';

describe('sizes (docker/go-units)', () => {
  test.each<[number, string]>([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1 kB'],
    [1023, '1.02 kB'],
    [1125, '1.12 kB'], // Go rounds the exact value half to even
    [7634567, '7.63 MB'],
    [999999, '1e+03 kB'], // %.3g quirk Podman shows too
    [5e9, '5 GB'],
    [1.5e12, '1.5 TB'],
    [1e27, '1e+03 YB'],
  ])('humanSize(%d) = %s (podman images SIZE)', (n, want) => {
    expect(humanSize(n)).toBe(want);
  });

  test.each<[number, number, string]>([
    [7634567, 4, '7.635MB'],
    [1000, 4, '1kB'],
    [1024, 4, '1.024kB'],
    [1234567890, 3, '1.23GB'],
    [10, 4, '10B'],
  ])('humanSizeWithPrecision(%d, %d) = %s', (n, p, want) => {
    expect(humanSizeWithPrecision(n, p)).toBe(want);
  });

  test('goHumanSize uses four digits', () => {
    expect(goHumanSize(3.42 * 1e9)).toBe('3.42GB');
    expect(goHumanSize(5.372 * 1e6)).toBe('5.372MB');
  });

  test.each<[number, string]>([
    [0, '0B'],
    [1024, '1KiB'],
    [1536, '1.5KiB'],
    [1024 * 1024, '1MiB'],
    [1048576 * 1.25, '1.25MiB'],
    [2 ** 30, '1GiB'],
    [3.42 * 2 ** 40, '3.42TiB'],
    [2 ** 60, '1EiB'],
  ])('bytesSize(%d) = %s', (n, want) => {
    expect(bytesSize(n)).toBe(want);
  });

  test.each<[string, number]>([
    ['32', 32],
    ['32b', 32],
    ['32B', 32],
    ['32k', 32768],
    ['32K', 32768],
    ['32kb', 32768],
    ['32Kib', 32768],
    ['32KIB', 32768],
    ['512k', 524288],
    ['10m', 10485760],
    ['32mB', 33554432],
    ['1g', 1073741824],
    ['1.5GB', 1610612736],
    ['32.3', 32],
    ['.3kB', 307],
    ['32 MiB', 33554432],
    ['1t', 2 ** 40],
    ['1p', 2 ** 50],
  ])('parseSize(%j) = %d (RAMInBytes)', (s, want) => {
    expect(parseSize(s)).toBe(want);
  });

  test.each<[string, number]>([
    ['32', 32],
    ['32kb', 32000],
    ['1.5GB', 1.5e9],
    ['10m', 1e7],
  ])('parseSize(%j, decimal) = %d (FromHumanSize)', (s, want) => {
    expect(parseSize(s, { decimal: true })).toBe(want);
  });

  test.each<[string, string]>([
    ['', "invalid size: ''"],
    ['abc', "invalid size: 'abc'"],
    ['-1', "invalid size: '-1'"],
    ['10x', "invalid suffix: 'x'"],
    ['10kk', "invalid suffix: 'kk'"],
    ['10kib2', 'strconv.ParseFloat: parsing "10kib2": invalid syntax'],
    ['10kiB ', 'strconv.ParseFloat: parsing "10kiB": invalid syntax'], // a space splits number and suffix
    ['10bb', "invalid suffix: 'bb'"],
    ['10kbb', "invalid suffix: 'kbb'"],
    ['1.2.3k', 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'],
  ])('parseSize(%j) fails: %s', (s, msg) => {
    let err: unknown;
    try {
      parseSize(s);
    } catch (e) {
      err = e;
    }
    expect(isTspodError(err, 'invalid-argument')).toBe(true);
    expect((err as Error).message).toBe(msg);
  });
});

describe('durations', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  test.each<[number, string]>([
    [-5 * s, 'Less than a second'],
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [s, '1 second'],
    [2 * s, '2 seconds'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [m + 59 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [h + 29 * m, 'About an hour'],
    [h + 30 * m, '2 hours'],
    [47 * h, '47 hours'],
    [47 * h + 30 * m, '2 days'],
    [13 * d, '13 days'],
    [14 * d, '2 weeks'],
    [59 * d, '8 weeks'],
    [60 * d, '2 months'],
    [729 * d, '24 months'],
    [730 * d, '2 years'],
    [3650 * d, '10 years'],
  ])('humanDuration(%d) = %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });

  test('timeAgo', () => {
    const now = new Date('2024-01-02T12:00:00Z');
    expect(timeAgo(new Date('2024-01-02T10:00:00Z'), now)).toBe('2 hours ago');
    expect(timeAgo(new Date('2024-01-02T11:59:59.5Z'), now)).toBe('Less than a second ago');
    expect(timeAgo(new Date('2023-12-01T12:00:00Z'), now)).toBe('4 weeks ago');
  });
});

describe('Go time formats', () => {
  const savedTZ = process.env.TZ;
  afterEach(() => {
    if (savedTZ === undefined) delete process.env.TZ;
    else process.env.TZ = savedTZ;
  });
  const t = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 123));

  test.each<[Date, number | undefined, string]>([
    [t, 123456789, '2024-01-02T03:04:05.123456789Z'],
    [t, undefined, '2024-01-02T03:04:05.123Z'],
    [t, 120000000, '2024-01-02T03:04:05.12Z'],
    [t, 0, '2024-01-02T03:04:05Z'],
    [t, 100, '2024-01-02T03:04:05.0000001Z'],
    [new Date(Date.UTC(2024, 0, 2)), undefined, '2024-01-02T00:00:00Z'],
  ])('formatRFC3339Nano UTC %#', (date, nanos, want) => {
    expect(formatRFC3339Nano(date, nanos, { utc: true })).toBe(want);
  });

  test('local zones print their offset; a zero offset prints Z', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(formatRFC3339Nano(t, 5)).toBe('2024-01-02T08:34:05.000000005+05:30');
    process.env.TZ = 'America/New_York';
    expect(formatRFC3339Nano(t)).toBe('2024-01-01T22:04:05.123-05:00');
    process.env.TZ = 'UTC';
    expect(formatRFC3339Nano(t)).toBe('2024-01-02T03:04:05.123Z');
  });

  test('goTimeString is Time.String()', () => {
    expect(goTimeString(t, 123456789, { utc: true })).toBe('2024-01-02 03:04:05.123456789 +0000 UTC');
    expect(goTimeString(new Date(Date.UTC(2024, 0, 2)), undefined, { utc: true })).toBe('2024-01-02 00:00:00 +0000 UTC');
    process.env.TZ = 'UTC';
    expect(goTimeString(t)).toBe('2024-01-02 03:04:05.123 +0000 UTC');
    process.env.TZ = 'America/New_York';
    expect(goTimeString(t)).toBe('2024-01-01 22:04:05.123 -0500 EST');
    process.env.TZ = 'Europe/Berlin';
    expect(goTimeString(t, 0)).toBe('2024-01-02 04:04:05 +0100 CET');
    process.env.TZ = 'Asia/Kolkata';
    expect(goTimeString(t, 0)).toBe('2024-01-02 08:34:05 +0530 +0530');
  });
});
