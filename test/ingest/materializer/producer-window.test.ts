import { describe, expect, it } from 'vitest';
import { doneOf, intentOf, parseCommitted } from '../../../ingest/materializer/batch-intent.js';
import { MAX_PRODUCERS, ProducerWindows } from '../../../ingest/materializer/producer-window.js';

const P = 'a1b2c3d4e5f60718';
const Q = '0000000000000001';

describe('producer windows', () => {
  it('drops a sequence seen before, also out of order, and keeps what it has not seen', () => {
    const w = new ProducerWindows();
    expect(w.take({ producer: P, seq: 5 })).toBe('new');
    expect(w.take({ producer: P, seq: 7 })).toBe('new');
    expect(w.take({ producer: P, seq: 5 })).toBe('duplicate');
    expect(w.take({ producer: P, seq: 7 })).toBe('duplicate');
    // 6 landed after 7 (a retried send behind a later one): new, then a duplicate.
    expect(w.take({ producer: P, seq: 6 })).toBe('new');
    expect(w.take({ producer: P, seq: 6 })).toBe('duplicate');
    expect(w.take({ producer: Q, seq: 5 })).toBe('new');
    expect(w.take({ producer: P, seq: 7 + 64 })).toBe('new');
    expect(w.take({ producer: P, seq: 7 })).toBe('duplicate');
    // Below the 64-sequence window: taken, and said so.
    expect(w.take({ producer: P, seq: 6 })).toBe('too-old');
  });

  it('survives serialization exactly (the commit metadata) and stays bounded', () => {
    const w = new ProducerWindows();
    for (let s = 1; s <= 100; s += 3) w.take({ producer: P, seq: s });
    const again = ProducerWindows.parse(w.serialize());
    for (let s = 40; s <= 110; s++) expect(again.take({ producer: P, seq: s }), `seq ${s}`).toBe(s <= 100 && (s - 1) % 3 === 0 ? 'duplicate' : 'new');

    const many = new ProducerWindows();
    for (let i = 0; i < MAX_PRODUCERS + 10; i++) many.take({ producer: i.toString(16).padStart(16, '0'), seq: 2 ** 40 + i });
    const text = many.serialize();
    expect(text.split(',')).toHaveLength(MAX_PRODUCERS);
    expect(intentOf({ first: 10n ** 15n, last: 10n ** 15n + 99_999n }, text).length).toBeLessThan(4_000);
    // The oldest producers were evicted: their records are no longer recognised.
    expect(ProducerWindows.parse(text).take({ producer: (0).toString(16).padStart(16, '0'), seq: 2 ** 40 })).toBe('new');
  });

  it('reads the windows back from an intent or a finished batch', () => {
    expect(parseCommitted(intentOf({ first: 5n, last: 9n }, 'x'), 5n)).toEqual({ replay: { first: 5n, last: 9n }, windows: 'x' });
    expect(parseCommitted(intentOf({ first: 5n, last: 9n }), 5n)).toEqual({ replay: { first: 5n, last: 9n }, windows: '' });
    expect(parseCommitted(doneOf('y'), 10n)).toEqual({ replay: undefined, windows: 'y' });
    expect(doneOf('')).toBeNull();
    expect(parseCommitted(null, 10n)).toEqual({ replay: undefined, windows: '' });
  });
});
