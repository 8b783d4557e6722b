import { seededRandom } from '../../setup/random.js';

/**
 * Random statsd datagrams, mostly of the common shape (the fast paths take
 * them) and some of anything (refused lines, events, service checks, sets,
 * packed values, timestamps, mutated bytes): for the tests that hold a fast
 * path to the general one.
 */
export function statsdDatagrams(seed: number): { int: (n: number) => number; datagram: () => Buffer; commonLine: () => string } {
  const rand = seededRandom(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

  const NAMES = ['bench.requests', 'a', 'api.latency', 'x'.repeat(200), 'with space', 'dots.and-dashes_1', 'Grüße', '_private', '9lives', 'tab\there'];
  const VALUES = [
    '1',
    '0',
    '-0',
    '42',
    '+5',
    '-3.25',
    '0.5',
    '.5',
    '5.',
    '1e3',
    '2.5E-4',
    '123456789012345',
    '1234567890123456',
    '1e40',
    '1e-50',
    'nan',
    '',
    '0x10',
    '1_0',
    ' 1',
    '-',
  ];
  const TYPES = ['c', 'g', 'ms', 'h', 'd', 's', 'x', '', 'cc'];
  const KEYS = ['route', 'code', 'host', 'region', 'a', 'b', '1st', '7', '10', '__proto__', 'veneurlocalonly', 'veneurglobalonly', 'constructor', 'é'];
  const TAG_VALUES = ['/x', '200', '', 'web-1', 'a:b', 'eu-west-1'];

  function tags(): string {
    const n = int(6);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = int(10);
      if (r === 0) out.push('');
      else if (r === 1) out.push(pick(KEYS));
      else if (r === 2) out.push(`:${pick(TAG_VALUES)}`);
      else out.push(`${pick(KEYS)}:${pick(TAG_VALUES)}`);
    }
    return out.join(',');
  }

  function line(): string {
    const r = int(30);
    if (r === 0) return '_e{5,4}:title|text|#a:b';
    if (r === 1) return '_sc|check|0|#a:b';
    if (r === 2) return '';
    if (r === 3) return 'no-colon|c';
    let l = `${pick(NAMES)}:${pick(VALUES)}`;
    if (int(10) === 0) l += `:${pick(VALUES)}`; // packed values
    l += `|${pick(TYPES)}`;
    const sections = [
      '@0.5',
      '@1',
      '@0',
      '@2',
      '@0.0000001',
      '@0.000001',
      `#${tags()}`,
      `#${tags()}`,
      `#${tags()}`,
      'T1700000000',
      'c:abc',
      'e:x',
      'card:low',
      '',
    ];
    for (let i = int(4); i > 0; i--) l += `|${pick(sections)}`;
    return l;
  }

  /** Mostly the common shape, so that both paths are exercised. */
  function commonLine(): string {
    const n = int(4);
    const t: string[] = [];
    for (let i = 0; i < n; i++) t.push(`${pick(['route', 'code', 'host', 'region', 'env', 'b', '2'])}:${pick(TAG_VALUES)}`);
    return `${pick(['bench.requests', 'api.latency', 'q'])}:${pick(['1', '7', '0.25', '-2', '1e3', '0'])}|${pick(['c', 'g', 'ms', 'h', 'd'])}${int(3) === 0 ? '|@0.1' : ''}${n > 0 ? `|#${t.join(',')}` : ''}`;
  }

  function datagram(): Buffer {
    const n = 1 + int(8);
    const odd = int(2) === 0;
    const lines = Array.from({ length: n }, () => (odd && int(3) === 0 ? line() : commonLine()));
    let text = lines.join(int(5) === 0 ? '\r\n' : '\n');
    if (int(6) === 0) text += '\n';
    const b = Buffer.from(text);
    // Mutations: a byte changed, a datagram cut short.
    if (int(5) === 0 && b.length > 0) b[int(b.length)] = pick([0x3a, 0x7c, 0x2c, 0x23, 0x40, 0x0a, 0x0d, 0x30, 0xc3, 0xff, 0x00, 0x61]);
    return int(8) === 0 ? b.subarray(0, int(b.length + 1)) : b;
  }

  return { int, datagram, commonLine };
}
