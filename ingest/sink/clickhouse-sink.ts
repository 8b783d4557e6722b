import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import type { EventBatch } from '../../src/clickhouse/event-batch.js';
import { EventRowBinary } from '../../src/clickhouse/event-row-binary.js';
import { insertBatch } from '../../src/clickhouse/event-writer.js';
import { appendSpanBytes } from '../../src/clickhouse/span-row-binary.js';
import { decodeSpan } from '../../src/codec/span-codec.js';
import { nowNs } from '../../src/emitter/clock.js';
import { probeClickHouse } from '../../src/clickhouse/probe.js';
import { FailureBreaker } from './failure-breaker.js';
import { sinkError, sinkFull, sinkTooLarge } from './sink-errors.js';
import { requestToken } from '../../src/kafka/record-identity.js';
import { AckBatcher } from './ack-batcher.js';
import { packStart } from './span-pack.js';
import type { SinkObserver, SinkStatus, SpanPack, SpanSink } from './span-sink.js';

export interface ClickHouseSinkOptions {
  /** Rows buffered before an insert. */
  batchRows: number;
  /** Longest wait before an insert. */
  lingerMs: number;
  /** Bound of the rows waiting or being inserted; past it publish() answers 503. */
  maxBufferedRows: number;
  defaultTenant: string;
}

/** What one publish() added: the rows of its spans, and the keyed request they are, if any. */
interface Published {
  rows: EventRowBinary;
  requestId: string | undefined;
}

/** Spans turned into rows between two turns of the event loop. */
const APPEND_SLICE = 2_000;
/**
 * Chunks of the rows of one publish(): about the size of its SSF bytes (the
 * rows take a little less), so that a request's rows are one chunk, within
 * these bounds.
 */
const PUBLISH_CHUNK_MIN = 4 << 10;
const PUBLISH_CHUNK_MAX = 1 << 20;

/**
 * The rows of the pack's spans [from, to) into `into`: each span's bytes
 * (its stamp included), as the materializer reads them from Kafka, through
 * the same RowBinary fast path, or the codec when that declines. The intake
 * validated them, so the codec accepts them; one that it would not is left
 * out rather than failing the insert of every request batched with it.
 */
function appendSpans(into: EventRowBinary, pack: SpanPack, from: number, to: number): void {
  let start = packStart(pack, from);
  for (let i = from; i < to; i++) {
    const end = pack.ends[i] as number;
    if (!appendSpanBytes(into, pack.data, nowNs, pack.own, start, end)) {
      const v = decodeSpan(pack.data.subarray(start, end));
      if (v.ok) into.append(v.span);
    }
    start = end;
  }
}

/**
 * All-in-one mode: the gateway's spans go straight into ClickHouse (the
 * materializer's job in distributed mode), with the same RowBinary rows and
 * the same inserts, on the writer's own client: its sockets are not the
 * query API's, so an insert never waits behind a query. publish() resolves once the insert is
 * acknowledged; a failed insert rejects every publisher of that batch (HTTP
 * clients get 503 and retry). The spans of requests without an
 * Idempotency-Key go in one insert with a token of its own (a client's
 * retry of them is a new insert); those of a keyed request go in an insert
 * of their own whose token is derived from the tenant and key
 * (`ssf-idem:<request id>`), so ClickHouse drops a retry of a request it
 * already stored, even one sent after a crash of this process.
 */
export class ClickHouseSink implements SpanSink {
  readonly name = 'clickhouse';
  observer?: SinkObserver | undefined;
  private readonly batcher: AckBatcher<Published>;
  private lastError: string | undefined;
  private readonly breaker = new FailureBreaker();
  private closed = false;

  constructor(
    private readonly ch: ClickHouse,
    private readonly options: ClickHouseSinkOptions,
  ) {
    this.batcher = new AckBatcher({
      flushAt: options.batchRows,
      lingerMs: options.lingerMs,
      limit: options.maxBufferedRows,
      send: (items) => this.insert(items),
    });
  }

  get accepting(): boolean {
    if (this.closed || !this.batcher.fits(1)) return false;
    return this.breaker.accepting;
  }

  publish(pack: SpanPack): Promise<void> {
    const spans = pack.ends.length;
    if (spans === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(sinkError('shutting down', 1));
    const rows = pack.events;
    const bytes = pack.data.length;
    const requestId = pack.requestId;
    // More than the whole buffer can never fit: refused for good, not "retry later".
    if (rows > this.options.maxBufferedRows) return Promise.reject(sinkTooLarge(rows, this.options.maxBufferedRows, 'rows', 'materializer.batchRows × 10'));
    if (!this.batcher.fits(rows)) return Promise.reject(this.full());
    // The spans become rows now, not when the batch is sent: what waits for the insert is
    // their RowBinary bytes, not one object per span (which would outlive young collections).
    const into = new EventRowBinary(this.options.defaultTenant, Math.min(Math.max(bytes, PUBLISH_CHUNK_MIN), PUBLISH_CHUNK_MAX));
    if (spans <= APPEND_SLICE) {
      try {
        appendSpans(into, pack, 0, spans);
      } catch (err) {
        return Promise.reject(err);
      }
      return this.batcher.add([{ rows: into, requestId }], rows);
    }
    return this.publishInSlices(pack, into, rows, requestId);
  }

  private full(): Error {
    return sinkFull(`the insert buffer is full (${this.options.maxBufferedRows} rows)${this.lastError ? `; last ClickHouse error: ${this.lastError}` : ''}`);
  }

  /**
   * Written in slices, yielding to the event loop between them: a request of
   * 100,000 spans holds health checks and other requests for one slice at
   * most. The buffer may have filled meanwhile: checked again.
   */
  private async publishInSlices(pack: SpanPack, into: EventRowBinary, rows: number, requestId: string | undefined): Promise<void> {
    const spans = pack.ends.length;
    for (let at = 0; at < spans; at += APPEND_SLICE) {
      if (at > 0) await yieldToEventLoop();
      appendSpans(into, pack, at, Math.min(at + APPEND_SLICE, spans));
    }
    if (this.closed) throw sinkError('shutting down', 1);
    if (!this.batcher.fits(rows)) throw this.full();
    return this.batcher.add([{ rows: into, requestId }], rows);
  }

  private async insert(items: Published[]): Promise<void> {
    const batch = new EventRowBinary(this.options.defaultTenant);
    const keyed: { token: string; batch: EventBatch }[] = [];
    for (const item of items) {
      if (item.requestId === undefined) batch.appendBatch(item.rows);
      else keyed.push({ token: requestToken(item.requestId), batch: item.rows });
    }
    let count = batch.total;
    for (const k of keyed) count += k.batch.total;
    const started = process.hrtime.bigint();
    try {
      for (const k of keyed) await insertBatch(this.ch, k.batch, k.token);
      if (batch.total > 0) await insertBatch(this.ch, batch, `serve:${randomUUID()}`);
      this.breaker.succeeded();
      this.lastError = undefined;
      this.observer?.observeSink('clickhouse', Number(process.hrtime.bigint() - started) / 1e9, count, true);
    } catch (err) {
      this.breaker.failed();
      this.lastError = (err as Error).message;
      this.observer?.observeSink('clickhouse', Number(process.hrtime.bigint() - started) / 1e9, count, false);
      throw sinkError(`ClickHouse did not take the insert: ${this.lastError}`, 2);
    }
  }

  status(): SinkStatus {
    if (this.breaker.failing) return { ok: false, detail: `ClickHouse insert failed ${this.breaker.lastFailureSecondsAgo} s ago: ${this.lastError ?? ''}` };
    return { ok: true, detail: `ClickHouse at ${this.ch.endpoint}, ${this.batcher.buffered} rows buffered` };
  }

  /** status(), and ClickHouse answers a statement within a short deadline (probe.ts). */
  async check(): Promise<SinkStatus> {
    const own = this.status();
    if (!own.ok) return own;
    const probe = await probeClickHouse(this.ch);
    return probe.ok ? own : { ok: false, detail: `ClickHouse at ${this.ch.endpoint}: ${probe.detail}` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.batcher.drain();
  }
}
