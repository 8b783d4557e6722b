import { randomUUID } from 'node:crypto';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { appendRows, emptyRows } from '../../src/clickhouse/event-rows.js';
import type { EventRows } from '../../src/clickhouse/event-rows.js';
import { insertRows } from '../../src/clickhouse/event-writer.js';
import { GatewayError } from '../gateway/gateway-errors.js';
import type { AcceptedSpan, SinkObserver, SinkStatus, SpanSink } from './span-sink.js';

export interface ClickHouseSinkOptions {
  /** Rows buffered before an insert. */
  batchRows: number;
  /** Longest wait before an insert. */
  lingerMs: number;
  /** Bound of the rows waiting or being inserted; past it publish() answers 503. */
  maxBufferedRows: number;
  defaultTenant: string;
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * All-in-one mode: the gateway's spans go straight into ClickHouse in this
 * process (the materializer's job in distributed mode), with the same row
 * conversion and the same inserts. publish() resolves once the insert is
 * acknowledged; a failed insert rejects every publisher of that batch (HTTP
 * clients get 503 and retry). Each insert carries a deduplication token, so
 * a retry of the same insert can never double rows.
 */
export class ClickHouseSink implements SpanSink {
  readonly name = 'clickhouse';
  private rows: EventRows = emptyRows();
  private rowCount = 0;
  private inFlightRows = 0;
  private waiters: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private lastError: string | undefined;
  private lastFailureAt = 0;
  private closed = false;

  observer?: SinkObserver | undefined;

  constructor(private readonly ch: ClickHouse, private readonly options: ClickHouseSinkOptions) {}

  get accepting(): boolean {
    if (this.closed || this.rowCount + this.inFlightRows >= this.options.maxBufferedRows) return false;
    return this.lastFailureAt === 0 || Date.now() - this.lastFailureAt > 2_000;
  }

  publish(spans: AcceptedSpan[], receivedNs: bigint): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', 'shutting down', 1));
    if (this.rowCount + this.inFlightRows >= this.options.maxBufferedRows) {
      return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', `the insert buffer is full (${this.options.maxBufferedRows} rows)${this.lastError ? `; last ClickHouse error: ${this.lastError}` : ''}`, 1));
    }
    const before = this.rows.spans.length + this.rows.logs.length + this.rows.samples.length;
    for (const s of spans) appendRows(this.rows, s.span, receivedNs, this.options.defaultTenant);
    this.rowCount += this.rows.spans.length + this.rows.logs.length + this.rows.samples.length - before;
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.rowCount >= this.options.batchRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.waiters.length === 0) return;
    const rows = this.rows;
    const count = this.rowCount;
    const waiters = this.waiters;
    this.rows = emptyRows();
    this.rowCount = 0;
    this.waiters = [];
    this.inFlightRows += count;
    const started = process.hrtime.bigint();
    const insert = (async () => {
      try {
        await insertRows(this.ch, rows, `embedded:${randomUUID()}`);
        this.lastFailureAt = 0;
        this.lastError = undefined;
        this.observer?.observeSink('clickhouse', Number(process.hrtime.bigint() - started) / 1e9, count, true);
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.lastFailureAt = Date.now();
        this.lastError = (err as Error).message;
        this.observer?.observeSink('clickhouse', Number(process.hrtime.bigint() - started) / 1e9, count, false);
        const error = GatewayError.of('GW_ERR_UNAVAILABLE', `ClickHouse did not take the insert: ${this.lastError}`, 2);
        for (const w of waiters) w.reject(error);
      } finally {
        this.inFlightRows -= count;
      }
    })();
    this.inFlight.add(insert);
    void insert.finally(() => this.inFlight.delete(insert));
  }

  status(): SinkStatus {
    if (this.lastFailureAt) return { ok: false, detail: `ClickHouse insert failed ${Math.round((Date.now() - this.lastFailureAt) / 1000)} s ago: ${this.lastError ?? ''}` };
    return { ok: true, detail: `ClickHouse (${this.ch.mode}), ${this.rowCount + this.inFlightRows} rows buffered` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}
