import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the gateway answered for one batch (POST /v1/ssf). */
export interface BatchOutcome {
  /** Spans kept. */
  accepted: number;
  /** Events (trace spans, samples, log records) in the kept spans. */
  events: number;
  /** Spans refused whole, with why. */
  rejected: Array<{ index: number; code: string; reason: string }>;
}

export interface GatewayPostOptions {
  /** `http://127.0.0.1:8127`: the gateway's HTTP listener. */
  address: string;
  token?: string | undefined;
  /** Attempts for answers a retry can fix (503, 429, connection errors). Default 8. */
  attempts?: number;
  signal?: AbortSignal | undefined;
}

/** A refusal that a retry cannot fix (bad token, body too large, a malformed batch). */
export class GatewayRefusal extends Error {
  override readonly name = 'GatewayRefusal';
}

/**
 * Sends one batch to the gateway, gzip-compressed, and waits for its answer:
 * 200 means the pipeline took it (in all-in-one mode it is in ClickHouse;
 * with Kafka it is in the spans topic). A batch whose every span was
 * refused (422 GW_ERR_NO_VALID_SPANS) is an answer too: it comes back with
 * its rejections. 503/429 and lost connections are retried with backoff,
 * honouring Retry-After; other refusals throw GatewayRefusal.
 */
export async function postBatch(body: Uint8Array, kind: 'json' | 'protobuf', options: GatewayPostOptions): Promise<BatchOutcome> {
  const url = `${options.address.replace(/\/+$/, '')}/v1/ssf`;
  const compressed = gzipSync(body);
  const headers: Record<string, string> = {
    'content-type': kind === 'json' ? 'application/json' : 'application/x-protobuf',
    'content-encoding': 'gzip',
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
  };
  const attempts = options.attempts ?? 8;
  let lastProblem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', body: compressed, headers, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      lastProblem = `cannot reach ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`;
      await sleep(backoffMs(attempt));
      continue;
    }
    const text = await response.text();
    const answer = parse(text);
    if (response.status === 200) {
      return { accepted: Number(answer['accepted'] ?? 0), events: Number(answer['events'] ?? 0), rejected: rejectionsOf(answer) };
    }
    const error = (answer['error'] ?? {}) as { code?: string; reason?: string };
    if (response.status === 422 && error.code === 'GW_ERR_NO_VALID_SPANS') return { accepted: 0, events: 0, rejected: rejectionsOf(answer) };
    lastProblem = `${response.status} ${error.code ?? ''}: ${error.reason ?? text.slice(0, 200)}`;
    if (response.status !== 503 && response.status !== 429) {
      const hint =
        response.status === 413
          ? ' (give a smaller --batch-size)'
          : response.status === 401 || response.status === 403
            ? " (give the tenant's token with --token or $SSF_TOKEN)"
            : '';
      throw new GatewayRefusal(`the gateway refused the batch: ${lastProblem}${hint}`);
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : backoffMs(attempt));
  }
  throw new Error(`the gateway did not take the batch after ${attempts} attempts: ${lastProblem}`);
}

function backoffMs(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** (attempt - 1));
}

function parse(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function rejectionsOf(answer: Record<string, unknown>): BatchOutcome['rejected'] {
  const list = Array.isArray(answer['rejected']) ? (answer['rejected'] as Array<Record<string, unknown>>) : [];
  return list.map((r) => ({ index: Number(r['index']), code: String(r['code'] ?? ''), reason: String(r['reason'] ?? '') }));
}
