import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { encodeBatchOfEncoded } from '../../codec/protobuf.js';
import type { EmitterLogger } from '../logger.js';
import type { DropReason, Outcome, Transport } from './transport.js';

export interface HttpTransportOptions {
  url: URL;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Largest request body; a flush larger than this is split into several requests. */
  maxBatchBytes: number;
  timeoutMs: number;
  /** How many times a batch is retried on a retriable answer (network error, 429, 5xx). */
  maxRetries: number;
  logger: EmitterLogger;
}

type Answer = { kind: 'ok'; rejected: Set<number> } | { kind: 'retry'; afterMs: number } | { kind: 'rejected' };

/**
 * SSFBatch over HTTP POST (`application/x-protobuf`). Retriable failures
 * (network errors, 429, 5xx) are retried with backoff, honouring
 * Retry-After; the batch is dropped and counted after `maxRetries`. Sockets
 * are unref'd so a pending request never keeps the process alive by itself.
 */
export class HttpTransport implements Transport {
  readonly protocol: string;
  private readonly agent: HttpAgent;
  private closed = false;
  private warned = false;

  constructor(private readonly options: HttpTransportOptions) {
    const url = options.url;
    this.protocol = url.protocol.replace(':', '');
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/ssf';
    this.agent = this.protocol === 'https' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  get ready(): boolean {
    return !this.closed;
  }

  async send(spans: Uint8Array[]): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(spans.length).fill(null);
    let batch: number[] = [];
    let bytes = 0;
    for (let i = 0; i < spans.length; i++) {
      const size = (spans[i] as Uint8Array).length + 6;
      if (size > this.options.maxBatchBytes) {
        outcomes[i] = 'too_large';
        continue;
      }
      if (bytes + size > this.options.maxBatchBytes) {
        await this.sendBatch(spans, batch, outcomes);
        batch = [];
        bytes = 0;
      }
      batch.push(i);
      bytes += size;
    }
    if (batch.length > 0) await this.sendBatch(spans, batch, outcomes);
    return outcomes;
  }

  private async sendBatch(spans: Uint8Array[], indices: number[], outcomes: Outcome[]): Promise<void> {
    const body = encodeBatchOfEncoded(indices.map((i) => spans[i] as Uint8Array));
    const mark = (reason: DropReason): void => {
      for (const i of indices) outcomes[i] = reason;
    };
    let backoff = 200;
    for (let attempt = 0; ; attempt++) {
      if (this.closed && attempt > 0) return mark('closed');
      const answer = await this.post(body);
      if (answer.kind === 'ok') {
        for (const j of answer.rejected) if (j < indices.length) outcomes[indices[j] as number] = 'rejected';
        return;
      }
      if (answer.kind === 'rejected') return mark('rejected');
      if (attempt >= this.options.maxRetries) return mark('send_failed');
      await sleep(Math.max(backoff, answer.afterMs));
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  private post(body: Uint8Array): Promise<Answer> {
    const { url, token, timeoutMs } = this.options;
    const headers: Record<string, string | number> = {
      'content-type': 'application/x-protobuf',
      'content-length': body.length,
    };
    if (token) headers['authorization'] = `Bearer ${token}`;
    const request = this.protocol === 'https' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve) => {
      const req = request(url, { method: 'POST', headers, agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => resolve({ kind: 'retry', afterMs: 0 }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve({ kind: 'ok', rejected: rejectedIndices(Buffer.concat(chunks)) });
          } else if (status === 429 || status >= 500) {
            const retryAfter = Number(res.headers['retry-after']);
            resolve({ kind: 'retry', afterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : 0 });
          } else {
            this.warnOnce(`SSF endpoint refused a batch with HTTP ${status}`, { body: Buffer.concat(chunks).toString('utf8', 0, 500) });
            resolve({ kind: 'rejected' });
          }
        });
      });
      req.on('socket', (socket) => socket.unref());
      req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      req.on('error', (err) => {
        this.warnOnce('SSF HTTP endpoint unreachable; batches are retried, then dropped and counted', { error: err.message });
        resolve({ kind: 'retry', afterMs: 0 });
      });
      req.end(body);
    });
  }

  private warnOnce(message: string, context: Record<string, unknown>): void {
    if (this.warned) return;
    this.warned = true;
    this.options.logger.warn(message, context);
  }

  close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
    return Promise.resolve();
  }
}

/** The gateway answers `{"rejected": [{"index": n, ...}]}` listing the spans it refused whole; anything else counts as none. */
function rejectedIndices(body: Buffer): Set<number> {
  const out = new Set<number>();
  if (body.length === 0) return out;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'rejected' in parsed && Array.isArray(parsed.rejected)) {
      for (const r of parsed.rejected as unknown[]) {
        if (typeof r === 'object' && r !== null && 'index' in r && typeof r.index === 'number') out.add(r.index);
      }
    }
  } catch {
    // Not JSON: nothing to count.
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
