import { encodeBatchOfEncoded } from '../../src/codec/index.js';
import { postBatch } from './gateway-post.js';
import type { BatchOutcome } from './gateway-post.js';
import { JobState } from './job-state.js';
import type { Progress } from './progress.js';
import type { ReplayInput, ReplayItem } from './replay-sources.js';

/** Largest body sent (before gzip); the gateway's default gateway.maxDecompressedBytes is 64 MiB. */
const MAX_BATCH_BYTES = 4 * 1_048_576;
/** Rejections printed one by one; the rest are counted. */
const SHOWN_REJECTIONS = 10;

export interface ReplayOptions {
  /** The gateway: `http://127.0.0.1:8127`. */
  address: string;
  token?: string | undefined;
  /** Spans per POST. */
  batchSize: number;
  statePath?: string | undefined;
  restart?: boolean;
  progress: (total: number, unit: string) => Progress;
  /** Warnings and notices (stderr). */
  log: (line: string) => void;
  /** Stops after the batch in flight (SIGINT): the state then resumes from there. */
  signal?: AbortSignal | undefined;
}

interface ReplayState {
  /** The input's end position when the replay first ran (a Kafka partition grows). */
  end: number | null;
  /** The next position to read: everything before it was acknowledged by the gateway. */
  next: number | null;
  /** A batch sent and not yet acknowledged, as positions [from, to). */
  inFlight: { from: number; to: number } | null;
  finished: boolean;
  batches: number;
  spans: number;
  accepted: number;
  events: number;
  rejected: number;
}

export interface ReplayResult {
  describe: string;
  /** Already finished by an earlier run: nothing was sent. */
  alreadyDone: boolean;
  /** Stopped by the signal; a rerun continues. */
  interrupted: boolean;
  /** Totals over every run of this replay (this state file). */
  batches: number;
  spans: number;
  accepted: number;
  events: number;
  rejected: number;
  statePath: string;
}

/**
 * Sends the spans of an input (NDJSON, Parquet export, Kafka offsets) back
 * through the gateway's POST /v1/ssf, in batches of `batchSize` spans.
 *
 * Running it twice is safe: the state file records the input position after
 * every batch the gateway acknowledged (200: the pipeline has it), so a rerun
 * continues after the last acknowledged batch, and a finished replay is not
 * sent again. The one batch that can be sent twice is one the gateway took
 * while the job died before hearing the answer: the state keeps it as
 * `inFlight`, and the resumed run says which positions it resends. A full
 * rerun (`--restart`) sends everything again and the tables then hold every
 * event twice (the materializer's deduplication covers retries of the same
 * Kafka records, not new records with the same content). docs/analytics.md
 * explains the choice.
 */
export async function replay(input: ReplayInput, options: ReplayOptions): Promise<ReplayResult> {
  const job = JobState.open<ReplayState>(
    'replay',
    { ...input.identity, address: options.address.replace(/\/+$/, '') },
    () => ({ end: null, next: null, inFlight: null, finished: false, batches: 0, spans: 0, accepted: 0, events: 0, rejected: 0 }),
    { path: options.statePath, restart: options.restart ?? false },
  );
  const state = job.state;
  const totals = (): Omit<ReplayResult, 'describe' | 'alreadyDone' | 'interrupted'> => ({
    batches: state.batches,
    spans: state.spans,
    accepted: state.accepted,
    events: state.events,
    rejected: state.rejected,
    statePath: job.path,
  });
  if (state.finished) {
    options.log(`already replayed (state ${job.path}): nothing sent; --restart sends everything again`);
    return { describe: '', alreadyDone: true, interrupted: false, ...totals() };
  }

  const source = await input.open(state.end ?? undefined);
  if (state.end === null || state.next === null) {
    state.end = source.end;
    state.next = source.start;
    job.save();
  }
  if (state.inFlight) {
    options.log(
      `resuming: the batch of ${source.unit} ${state.inFlight.from} to ${state.inFlight.to} was sent but its answer was not recorded; it is sent again (if the gateway had taken it, those events are now written twice)`,
    );
  }
  const progress = options.progress(source.end - source.start, source.unit);
  progress.skip(state.next - source.start);

  let pending: ReplayItem[] = [];
  let pendingSpans = 0;
  let pendingBytes = 0;
  let shown = 0;

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const from = state.next as number;
    const to = (pending[pending.length - 1] as ReplayItem).next;
    // Where each span of the batch came from, for the gateway's refusals (by index).
    const where = (i: ReplayItem): string => (source.unit === 'records' ? `offset ${i.next - 1}` : `${source.unit.replace(/s$/, '')} ${i.next}`);
    const positions: string[] = [];
    let body: Uint8Array | undefined;
    if (source.kind === 'json') {
      const spans = pending.filter((i) => i.json !== undefined);
      for (const i of spans) positions.push(where(i));
      if (spans.length > 0) body = Buffer.from(JSON.stringify({ spans: spans.map((i) => i.json) }));
    } else {
      const encoded: Uint8Array[] = [];
      for (const i of pending) {
        for (const bytes of i.encoded ?? []) {
          encoded.push(bytes);
          positions.push(where(i));
        }
      }
      if (encoded.length > 0) body = encodeBatchOfEncoded(encoded);
    }
    const units = to - from;
    pending = [];
    pendingSpans = 0;
    pendingBytes = 0;
    if (body !== undefined) {
      state.inFlight = { from, to };
      job.save();
      const outcome: BatchOutcome = await postBatch(body, source.kind, { address: options.address, token: options.token, signal: undefined });
      state.batches++;
      state.spans += positions.length;
      state.accepted += outcome.accepted;
      state.events += outcome.events;
      state.rejected += outcome.rejected.length;
      for (const r of outcome.rejected) {
        if (shown++ < SHOWN_REJECTIONS) options.log(`refused by the gateway: ${positions[r.index] ?? `span ${r.index}`}: ${r.code}: ${r.reason}`);
      }
    }
    state.next = to;
    state.inFlight = null;
    job.save();
    progress.advance(units, `${state.accepted} spans accepted`);
  };

  await source.run(
    state.next,
    async (item) => {
      pending.push(item);
      if (item.json !== undefined) {
        pendingSpans++;
        pendingBytes += JSON.stringify(item.json).length;
      }
      for (const bytes of item.encoded ?? []) {
        pendingSpans++;
        pendingBytes += bytes.length + 4;
      }
      if (pendingSpans >= options.batchSize || pendingBytes >= MAX_BATCH_BYTES) await flush();
    },
    options.signal,
  );

  const interrupted = options.signal?.aborted === true;
  if (!interrupted) {
    await flush();
    state.finished = true;
    job.save();
  }
  if (shown > SHOWN_REJECTIONS) options.log(`... and ${shown - SHOWN_REJECTIONS} more refused`);
  const verb = interrupted ? `interrupted at ${source.unit} ${state.next} of ${source.end}; run again to continue` : 'done';
  progress.finish(
    `${verb}: ${state.spans} spans in ${state.batches} batches, ${state.accepted} accepted (${state.events} events), ${state.rejected} refused; state ${job.path}`,
  );
  return { describe: source.describe, alreadyDone: false, interrupted, ...totals() };
}
