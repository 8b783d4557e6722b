import type { MetricSample, SpanEvent } from '../../src/codec/index.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';

export const HOUR_MS = 3_600_000;

/** The start of the hour `hoursAgo` whole hours before the current one (UTC): in the past, inside every TTL. */
export function pastHour(hoursAgo: number): number {
  return (Math.floor(Date.now() / HOUR_MS) - hoursAgo) * HOUR_MS;
}

/** One endpoint of the generated traffic: its error rate and its latency (ms), exact per span. */
export interface Endpoint {
  service: string;
  name: string;
  indicator: boolean;
  /** Every n-th span fails (0: none). */
  failEvery: number;
  /** Durations cycle through these (ms). */
  durationsMs: number[];
}

export interface Traffic {
  spans: SpanEvent[];
  /** The spans as they must end up in ssf.spans (one per trace span). */
  count: number;
}

let nextId = 1n;
/** Unique ids across every call in a test file. */
export function newId(): bigint {
  nextId += 1n;
  return BigInt(Date.now()) * 1_000n + nextId;
}

function sample(name: string, value: number, ns: bigint, extra: Partial<MetricSample> = {}): MetricSample {
  return { type: 'counter', name, value, timestamp: ns, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default', ...extra };
}

/**
 * `perEndpoint` trace spans of each endpoint, spread evenly over
 * [fromMs, toMs), each with one log record and two samples (a counter with
 * sample rate 0.5 and a histogram), so every table and rollup gets rows.
 * Deterministic for a seed.
 */
export function traffic(endpoints: readonly Endpoint[], fromMs: number, toMs: number, perEndpoint: number, seed = 7): SpanEvent[] {
  const rand = seededRandom(seed);
  const spans: SpanEvent[] = [];
  for (const e of endpoints) {
    for (let i = 0; i < perEndpoint; i++) {
      const startMs = fromMs + ((i + rand() * 0.5) / perEndpoint) * (toMs - fromMs - 1000);
      const start = BigInt(Math.floor(startMs)) * 1_000_000n + BigInt(Math.floor(rand() * 1_000_000));
      const durationMs = e.durationsMs[i % e.durationsMs.length] as number;
      const error = e.failEvery > 0 && i % e.failEvery === 0;
      const traceId = newId();
      spans.push(
        spanEvent(
          spanEvent({
            traceId,
            id: newId(),
            startTimestamp: start,
            endTimestamp: start + BigInt(Math.round(durationMs * 1e6)),
            rootStartTimestamp: start,
            error,
            service: e.service,
            name: e.name,
            indicator: e.indicator,
            tags: { region: i % 2 === 0 ? 'eu' : 'us' },
            isTrace: true,
            metrics: [
              sample('requests', 1, start, { sampleRate: 0.5, tags: { endpoint: e.name } }),
              sample('payload', 100 + (i % 17), start, { type: 'histogram', unit: 'bytes', tags: { endpoint: e.name } }),
            ],
            logs: [
              {
                timestamp: start,
                severity: error ? 'error' : 'info',
                severityNumber: error ? 17 : 9,
                body: `${e.service} ${e.name} ${i} ${error ? 'failed' : 'ok'}`,
                attributes: { i: String(i) },
              },
            ],
          }),
        ),
      );
    }
  }
  return spans;
}

/** Posts spans in batches through the real gateway; fails the test on anything but 200. */
export async function postAll(
  post: (spans: readonly SpanEvent[], token?: string) => Promise<Response>,
  spans: readonly SpanEvent[],
  token?: string,
  batch = 500,
): Promise<void> {
  for (let i = 0; i < spans.length; i += batch) {
    const r = await post(spans.slice(i, i + batch), token);
    if (r.status !== 200) throw new Error(`the gateway answered ${r.status}: ${await r.text()}`);
  }
}
