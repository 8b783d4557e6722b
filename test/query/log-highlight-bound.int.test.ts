/**
 * GET /v1/logs highlights on the API's event loop, which in all-in-one mode
 * is the gateway's too. Highlighting every word of large bodies held it for
 * minutes (a page of 250 bodies of 1 MB, `a a a ...`, searched for four
 * phrases of 32 words: 161 s, another tenant's `SELECT 1` waiting 120 s):
 * only the first HIGHLIGHT_BODY_CHARS of a body, and HIGHLIGHT_ANSWER_CHARS
 * of one answer, are looked at. Bodies come back whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HIGHLIGHT_ANSWER_CHARS, HIGHLIGHT_BODY_CHARS } from '../../query/logs/highlight.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

/** A body just under gateway.maxSpanBytes (1,000,000) with its span: one word `a` per two characters. */
const BODY = 'a '.repeat(494_900);
const BODIES = 6;

interface Answer {
  logs: Array<{ body: string; highlights: Array<[number, number]> }>;
}

describe('GET /v1/logs: highlights of large bodies are bounded', () => {
  let aio: AllInOne;
  beforeAll(async () => {
    aio = await startAllInOne('ssf_loghl');
    const now = BigInt(Date.now()) * 1_000_000n;
    const spans = Array.from({ length: BODIES }, (_, i) =>
      spanEvent({
        traceId: BigInt(100 + i),
        id: BigInt(i + 1),
        startTimestamp: now + BigInt(i),
        endTimestamp: now + BigInt(i) + 1_000n,
        service: 'big',
        name: 'x',
        tags: {},
        isTrace: false,
        logs: [{ timestamp: 0n, severity: 'info', severityNumber: 9, body: BODY, attributes: {} }],
      }),
    );
    const res = await aio.post(spans);
    expect(res.status, await res.text()).toBe(200);
  }, 60_000);
  afterAll(async () => aio?.close());

  it('highlights the first HIGHLIGHT_BODY_CHARS of each body while the answer has HIGHLIGHT_ANSWER_CHARS left, and gives every body whole', async () => {
    const res = await fetch(`${aio.http}/v1/logs?q=a&limit=10&from=now-1h`);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer.logs).toHaveLength(BODIES);
    const highlighted = HIGHLIGHT_ANSWER_CHARS / HIGHLIGHT_BODY_CHARS;
    answer.logs.forEach((log, i) => {
      expect(log.body).toBe(BODY);
      // Every `a` within the bound: at 0, 2, 4, ... (the last one ends at the bound's edge at most).
      const expected = i < highlighted ? HIGHLIGHT_BODY_CHARS / 2 : 0;
      expect(log.highlights.length, `log ${i}`).toBe(expected);
      if (expected > 0) {
        expect(log.highlights[0]).toEqual([0, 1]);
        expect(log.highlights.at(-1)).toEqual([HIGHLIGHT_BODY_CHARS - 2, HIGHLIGHT_BODY_CHARS - 1]);
      }
    });
  });

  it('four phrases of 32 words over the same bodies: still at most one range per word, within the bounds', async () => {
    const phrase = `"${Array.from({ length: 32 }, () => 'a').join(' ')}"`;
    const q = [phrase, phrase, phrase, phrase].join(' ');
    const res = await fetch(`${aio.http}/v1/logs?${new URLSearchParams({ q, limit: '10', from: 'now-1h' })}`);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer.logs).toHaveLength(BODIES);
    // The matches overlap: one merged range per highlighted body.
    expect(answer.logs.map((l) => l.highlights.length)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(answer.logs[0]?.highlights[0]?.[1]).toBeLessThanOrEqual(HIGHLIGHT_BODY_CHARS);
  });
});
