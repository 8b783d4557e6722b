import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch, spanEvent } from '../../src/codec/index.js';
import { startAllInOne } from './all-in-one.js';
import type { AllInOne } from './all-in-one.js';

/*
 * A keyed request the sink refuses whole at publish() (a request larger than
 * the whole buffer: 413 GW_ERR_BATCH_TOO_LARGE, "split it") had nothing
 * stored, so its key is not bound to its body: the client that splits the
 * request may send its first half under the same key. The key stayed bound,
 * and that half was refused 422 GW_ERR_IDEMPOTENCY_KEY_REUSED, a refusal no
 * retry could get past.
 */
const NOW = BigInt(Date.now()) * 1_000_000n;
const body = (name: string, n: number): Buffer =>
  Buffer.from(
    encodeBatch(
      Array.from({ length: n }, (_, i) =>
        spanEvent({ id: BigInt(i + 1), traceId: 77n, service: 'split', name, startTimestamp: NOW, endTimestamp: NOW + 1_000n, isTrace: true }),
      ),
    ),
  );

describe('a keyed request refused whole by the sink', () => {
  let aio: AllInOne;
  // batchRows 2: the insert buffer holds 40 rows, so 50 spans can never fit.
  beforeAll(async () => {
    aio = await startAllInOne('ssf_idem_whole', {}, 2);
  });
  afterAll(async () => aio?.close());

  it('leaves its key free for the request split smaller', async () => {
    const post = (payload: Buffer): Promise<Response> =>
      fetch(`${aio.http}/v1/ssf`, { method: 'POST', body: payload, headers: { 'content-type': 'application/x-protobuf', 'idempotency-key': 'split-me' } });
    const whole = await post(body('whole', 50));
    expect(whole.status).toBe(413);
    expect(((await whole.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_BATCH_TOO_LARGE');
    const half = await post(body('half', 25));
    expect(half.status, await half.clone().text()).toBe(200);
    const rows = await (
      await aio.ch.client.query({
        query: `SELECT name, count() AS n FROM ${aio.ch.database}.spans WHERE service = 'split' GROUP BY name`,
        format: 'JSONEachRow',
      })
    ).json<{ name: string; n: string }>();
    expect(rows).toEqual([{ name: 'half', n: '25' }]);
  });
});
