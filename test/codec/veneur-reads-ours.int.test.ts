import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeFrames, encodeSpan } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';

// The other direction of compatibility: bytes WE encode, decoded by Veneur's
// own Go code (the golden-vector generator's decode mode).
const root = join(import.meta.dirname, '..', '..');
const generatorDir = join(root, 'test', 'fixtures', 'veneur', 'generator');
const binary = join(root, '.cache', 'veneur-golden', 'veneur-golden');

const span: SpanEvent = spanEvent(
  spanEvent({
    version: 1,
    traceId: 9223372036854775807n,
    id: -42n,
    parentId: 77n,
    startTimestamp: 1_700_000_000_000_000_001n,
    endTimestamp: 1_700_000_000_500_000_001n,
    rootStartTimestamp: 1_699_999_999_000_000_000n,
    error: true,
    service: 'pay ✓',
    name: 'charge 💳',
    indicator: true,
    tags: { region: 'eu', ключ: 'значение' },
    tenant: 'acme',
    isTrace: true,
    metrics: [
      { type: 'set', name: 'users', value: 0, timestamp: 5n, message: 'alice', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'global' },
      { type: 'status', name: 'db', value: 0, timestamp: 6n, message: 'lag', status: 'critical', sampleRate: 0.5, tags: { a: 'b' }, unit: 's', scope: 'local' },
    ],
    logs: [{ timestamp: 7n, severity: 'error', severityNumber: 17, body: 'declined', attributes: { code: '51' } }],
  }),
);

describe('Veneur decodes what we encode', () => {
  beforeAll(() => {
    mkdirSync(join(root, '.cache', 'veneur-golden'), { recursive: true });
    execFileSync('go', ['build', '-o', binary, '.'], { cwd: generatorDir, stdio: 'pipe', timeout: 300_000 });
  }, 320_000);

  function veneurDecode(args: string[]): { json: Array<Record<string, unknown>>; stderr: string } {
    const out = execFileSync(binary, ['decode', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return {
      json: out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
      stderr: '',
    };
  }

  it('reads every Veneur field of a span with our extensions, skipping the extensions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssf-veneur-'));
    const file = join(dir, 'span.bin');
    writeFileSync(file, encodeSpan(span));
    const [decoded] = veneurDecode([file]).json;
    expect(decoded).toMatchObject({
      version: 1,
      trace_id: '9223372036854775807',
      id: '-42',
      parent_id: '77',
      start_timestamp: '1700000000000000001',
      end_timestamp: '1700000000500000001',
      root_start_timestamp: '1699999999000000000',
      error: true,
      service: 'pay ✓',
      name: 'charge 💳',
      indicator: true,
      tags: { region: 'eu', ключ: 'значение' },
    });
    expect(decoded?.['metrics']).toEqual([
      { metric: 3, name: 'users', value: 0, timestamp: '5', message: 'alice', status: 0, sample_rate: 1, tags: {}, unit: '', scope: 2 },
      { metric: 4, name: 'db', value: 0, timestamp: '6', message: 'lag', status: 2, sample_rate: 0.5, tags: { a: 'b' }, unit: 's', scope: 1 },
    ]);
  });

  it('reads our framed stream with protocol.ReadSSF', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssf-veneur-'));
    const file = join(dir, 'stream.bin');
    writeFileSync(file, encodeFrames([encodeSpan(span), encodeSpan({ ...span, name: 'second', id: 2n })]));
    const { json } = veneurDecode(['-framed', file]);
    expect(json.map((s) => s['name'])).toEqual(['charge 💳', 'second']);
  });
});
