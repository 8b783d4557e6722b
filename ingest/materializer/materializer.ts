import { channel } from 'node:diagnostics_channel';
import { logLevel, Partitioners } from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { TABLES } from '../../src/clickhouse/event-batch.js';
import type { EventBatch } from '../../src/clickhouse/event-batch.js';
import { createEventBatch, insertBatch } from '../../src/clickhouse/event-writer.js';
import type { Config } from '../../src/config/config-schema.js';
import { createKafka, compressionOf } from '../../src/kafka/kafka-client.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Logger } from '../../src/observability/logger.js';
import { idempotencyTokenOf, producerOf } from '../../src/kafka/record-identity.js';
import { doneOf, insertToken, intentOf, parseCommitted } from './batch-intent.js';
import type { Range } from './batch-intent.js';
import { deadLetterMessage } from './dead-letter.js';
import type { DeadLetter } from './dead-letter.js';
import { insertError, materializerError, MaterializerErrors } from './materializer-errors.js';
import { MaterializerMetrics } from './materializer-metrics.js';
import { ProducerWindows } from './producer-window.js';
import { decodeRecord } from './record-decoder.js';
import type { DecodeHooks } from './record-decoder.js';

/*
 * The materializer: Kafka spans topic -> ClickHouse event tables, exactly once.
 *
 * Per partition, records are cut into batches; each batch is an offset range
 * [first, last] and goes through, strictly in order:
 *   1. dead letters of the range -> the dead-letter topic (acks=all);
 *   2. an INTENT: commit offset `first` (unchanged position) with the commit
 *      metadata `ssf-materializer:1:<first>-<last>`;
 *   3. insertBatch with the token `<topic>:<partition>:<first>-<last>`;
 *   4. commit `last + 1` (no metadata).
 * After a crash, kafkajs re-delivers from the committed offset, in batches
 * whose boundaries need not match the old ones. A committed intent says which
 * range was (perhaps) inserted: that exact range is rebuilt and inserted again
 * with the same token, so ClickHouse drops whatever part of it it already has
 * (per table, rollups included). Without an intent nothing of the range was
 * inserted, so any new cut is safe. The intent lives in Kafka's own offset
 * store, written by the generation-checked OffsetCommit of the current owner
 * of the partition, so it needs no table of ours and a consumer that lost the
 * partition cannot write it. docs/architecture.md ("Materializer") has the whole argument.
 *
 * This file is the state machine; beside it: the intent and token
 * (batch-intent.ts), decoding a record (record-decoder.ts), dead letters
 * (dead-letter.ts), the metrics (materializer-metrics.ts), the HTTP routes
 * (materializer-routes.ts), the error codes (materializer-errors.ts).
 */

/** Published on `ssf:materializer:inserted` once ClickHouse acknowledged a batch, before its offsets are committed. */
export interface InsertedEvent {
  topic: string;
  partition: number;
  first: string;
  last: string;
  token: string;
  rows: number;
  replay: boolean;
}

const insertedChannel = channel('ssf:materializer:inserted');
const committedChannel = channel('ssf:materializer:committed');

export interface MaterializerOptions {
  /** Consumer group session timeout (kafkajs default 30 000): how long a crashed member holds its partitions. */
  sessionTimeoutMs?: number;
  /** Heartbeat interval (kafkajs default 3 000); a third of the session timeout or less. */
  heartbeatIntervalMs?: number;
  /** A fetch loop silent this long (ClickHouse healthy) gets a new consumer. Default 60 000: above a rebalance's usual length. */
  stallMs?: number;
  /** How long stop() waits for buffered batches to be written and committed. Default 15 000. */
  stopTimeoutMs?: number;
  /** Create the spans and dead-letter topics when missing (`kafka.partitions`, `kafka.replicationFactor`). Default true. */
  createTopics?: boolean;
  /** The process log (pino's shape, as fastify's). Default: JSON lines on stderr at `log.level`, `component: materializer`. */
  log?: Logger;
  /** kafkajs's own log level. Default ERROR. */
  kafkaLogLevel?: logLevel;
  /** Called when kafkajs gives up on the consumer (it will not restart it): the process should exit. */
  onFatal?: (err: Error) => void;
}

export interface MaterializerStatus {
  /** Joined the group, not stopping, and the last insert succeeded (or there was none yet). */
  ready: boolean;
  joined: boolean;
  stopping: boolean;
  assigned: number[];
  paused: number[];
  bufferedRows: number;
  inFlightBatches: number;
  lastInsert: { ok: boolean; at: number; error?: string };
}

export interface Materializer {
  /** Connects, creates the topics if asked, joins the group and starts consuming. */
  start(): Promise<void>;
  /** Writes and commits what is buffered (up to `stopTimeoutMs`), then leaves the group. Idempotent. */
  stop(): Promise<void>;
  readonly metrics: MaterializerMetrics;
  status(): MaterializerStatus;
  /** Refreshes the lag gauges from Kafka (at most once a second). */
  refreshLag(): Promise<void>;
}

interface Batch {
  first: bigint;
  last: bigint;
  records: number;
  rows: EventBatch;
  /** Records of keyed client requests (ssf-idempotency): each inserted alone, under its own token. */
  keyed: { token: string; rows: EventBatch }[];
  keyedRows: number;
  rowCount: number;
  /** Bytes of its records' values (decompressed), bounded by batchBytes as rowCount is by batchRows. */
  bytes: number;
  deadLetters: DeadLetter[];
  /** The partition's producer windows (serialized) before `first`, and after `last` once sealed: the intent's and the final commit's metadata. */
  windowsBefore: string;
  windowsAfter: string;
  /** Rebuilding a committed intent: ends exactly at replay.last and keeps its token. */
  replay: Range | undefined;
  sealed: boolean;
  /** batchMs passed while an insert of the partition was running: seal when it ends. */
  due: boolean;
}

interface PartitionState {
  readonly partition: number;
  /** The group generation (as counted here) this state belongs to. */
  readonly epoch: number;
  /** Records below this offset are committed already: skipped. */
  next: bigint | undefined;
  /** A committed intent not yet rebuilt. */
  replay: Range | undefined;
  /** (producer, sequence) pairs taken, as of `next`: a retried produce's copy is dropped. */
  windows: ProducerWindows;
  open: Batch | undefined;
  flushing: Promise<void> | undefined;
  flushingRows: number;
  timer: NodeJS.Timeout | undefined;
  pausedFor: Set<'full' | 'failing'>;
  /** What decodeRecord reports to, made once per state (not per record). */
  readonly hooks: DecodeHooks;
}

type Step = 'insert' | 'dead_letter' | 'commit';

function backoffMs(attempt: number, retriable: boolean): number {
  const cap = retriable ? 5_000 : 30_000;
  return Math.min(cap, 200 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
}

class KafkaMaterializer implements Materializer {
  readonly metrics = new MaterializerMetrics();
  private readonly topic: string;
  private readonly dlqTopic: string;
  private readonly groupId: string;
  private readonly batchRows: number;
  private readonly batchBytes: number;
  private readonly batchMs: number;
  private readonly heartbeatMs: number;
  private readonly defaultTenant: string;
  private readonly log: Logger;
  private consumer: Consumer;
  private readonly kafka: ReturnType<typeof createKafka>;
  private readonly producer: Producer;
  private readonly admin: Admin;
  /** Bumped on every rebalance, join and crash: states and batches of an older epoch are void. */
  private epoch = 0;
  private states = new Map<number, PartitionState>();
  /** The running flush of each partition, whatever its epoch (an insert cannot be cancelled). */
  private readonly inflight = new Map<number, Promise<void>>();
  private assigned = new Set<number>();
  private joined = false;
  private started = false;
  private stopping = false;
  private aborted = false;
  private stopped: Promise<void> | undefined;
  private lastInsert: MaterializerStatus['lastInsert'] = { ok: true, at: 0 };
  private readonly commitsSeen = new Set<string>();
  private readonly sleepers = new Set<() => void>();
  private lagAt = 0;
  /** When the fetch loop last started a fetch; see checkPulse(). */
  private fetchedAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private readonly spansConsumed = this.metrics.spansConsumed.bind({});

  constructor(
    private readonly config: Readonly<Config>,
    private readonly ch: ClickHouse,
    private readonly options: MaterializerOptions,
  ) {
    this.topic = config.kafka.spansTopic;
    this.dlqTopic = config.kafka.deadLetterTopic;
    this.groupId = config.kafka.consumerGroup;
    this.batchRows = config.materializer.batchRows;
    this.batchBytes = config.materializer.batchBytes;
    this.batchMs = config.materializer.batchMs;
    this.heartbeatMs = options.heartbeatIntervalMs ?? 3_000;
    this.defaultTenant = config.gateway.defaultTenant;
    this.log = options.log ?? createLogger({ level: config.log.level, component: 'materializer' });
    const kafka = createKafka(config.kafka, 'materializer', options.kafkaLogLevel ?? logLevel.ERROR);
    this.kafka = kafka;
    this.consumer = this.newConsumer();
    this.producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.admin = kafka.admin();
    this.metrics.bufferedRows.set(() => this.bufferedRows());
    this.metrics.paused.set(() => [...this.states.values()].filter((s) => s.pausedFor.size > 0).length);
    this.metrics.assigned.set(() => this.assigned.size);
  }

  private newConsumer(): Consumer {
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.heartbeatMs,
      // Short fetch waits keep stop() and pause/resume prompt; data is returned at once anyway.
      maxWaitTimeInMs: 1_000,
      // kafkajs's default is 5 minutes: after a broker failover a member could fetch on stale
      // leaders and coordinators that long (seen in the cluster tests).
      metadataMaxAge: 30_000,
      allowAutoTopicCreation: false,
    });
    this.watchGroup(consumer);
    return consumer;
  }

  private watchGroup(consumer: Consumer): void {
    const { events } = consumer;
    // The fetch loop starts a fetch at least every maxWaitTimeInMs while it runs: the watchdog's pulse.
    consumer.on(events.FETCH_START, () => {
      if (consumer === this.consumer) this.fetchedAt = Date.now();
    });
    consumer.on(events.GROUP_JOIN, (e) => {
      if (consumer !== this.consumer) return;
      this.newEpoch('joined');
      this.assigned = new Set(e.payload.memberAssignment[this.topic] ?? []);
      this.joined = true;
      this.log.info({ group: this.groupId, topic: this.topic, partitions: [...this.assigned] }, 'joined the consumer group');
    });
    consumer.on(events.REBALANCING, () => {
      if (consumer !== this.consumer) return;
      this.joined = false;
      this.newEpoch('rebalancing');
    });
    consumer.on(events.STOP, () => {
      if (consumer === this.consumer) this.joined = false;
    });
    consumer.on(events.CRASH, (e) => {
      if (consumer !== this.consumer) return;
      this.joined = false;
      this.newEpoch('crash');
      const error = e.payload.error;
      this.log[e.payload.restart ? 'warn' : 'error']({ error: error.message, restart: e.payload.restart }, 'the Kafka consumer crashed');
      if (!e.payload.restart) this.options.onFatal?.(materializerError('MAT_ERR_CONSUMER_CRASHED', error.message, { cause: error }));
    });
    consumer.on(events.COMMIT_OFFSETS, (e) => {
      for (const t of e.payload.topics) {
        if (t.topic !== this.topic) continue;
        for (const p of t.partitions) this.commitsSeen.add(`${p.partition}:${String(p.offset)}`);
      }
    });
  }

  /**
   * A new generation: every state, open batch and timer of the old one is
   * dropped (kafkajs reads again from the committed offsets); flushes still
   * running stop at their next step (the guard); pauses are lifted.
   */
  private newEpoch(reason: string): void {
    this.epoch++;
    this.metrics.rebalances.inc();
    const paused: number[] = [];
    for (const s of this.states.values()) {
      if (s.timer) clearTimeout(s.timer);
      if (s.pausedFor.size > 0) paused.push(s.partition);
    }
    this.states = new Map();
    if (paused.length > 0) this.kafkaResume(paused);
    this.wakeSleepers();
    this.log.debug({ reason, epoch: this.epoch }, 'new consumer epoch');
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.admin.connect();
    if (this.options.createTopics ?? true) {
      const created = await ensureTopics(this.config.kafka);
      if (created.length > 0)
        this.log.info(
          {
            topics: created,
            partitions: this.config.kafka.partitions,
            replicationFactor: this.config.kafka.replicationFactor,
          },
          'created topics',
        );
    }
    await this.producer.connect();
    await this.runConsumer();
    this.watchdog = setInterval(() => this.checkPulse(), 5_000);
    this.watchdog.unref();
    this.log.info(
      {
        topic: this.topic,
        group: this.groupId,
        deadLetterTopic: this.dlqTopic,
        batchRows: this.batchRows,
        batchBytes: this.batchBytes,
        batchMs: this.batchMs,
        clickhouse: this.ch.endpoint,
        database: this.ch.database,
      },
      'materializer started',
    );
  }

  private async runConsumer(): Promise<void> {
    this.fetchedAt = Date.now();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /**
   * The watchdog. kafkajs's fetch loop starts a fetch at least every
   * second while it runs, even with every partition paused; after a broker
   * failover it has been seen to stop for minutes without an error or a
   * crash event (cluster tests: the group coordinator moved while a broker
   * came back). A loop silent for `stallMs` while ClickHouse is fine (a
   * failing insert holds the loop on purpose) gets a new consumer: the
   * stuck one is left, the new one joins, and the group's committed
   * offsets and intents make the replay exact, as after any rebalance.
   */
  private checkPulse(): void {
    if (this.stopping || this.restarting !== undefined || !this.lastInsert.ok) return;
    const silentMs = Date.now() - this.fetchedAt;
    if (silentMs < (this.options.stallMs ?? 60_000)) return;
    this.metrics.stalls.inc();
    this.log.warn({ silentMs, code: 'MAT_ERR_CONSUMER_STALLED' }, 'the Kafka consumer stopped fetching; starting a new one');
    this.restarting = this.restartConsumer().finally(() => {
      this.restarting = undefined;
    });
  }

  private async restartConsumer(): Promise<void> {
    const stuck = this.consumer;
    this.joined = false;
    // Fences what the stuck consumer's batches are doing (their commits would go nowhere).
    this.newEpoch('stalled');
    this.consumer = this.newConsumer();
    await Promise.race([stuck.disconnect().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    if (this.stopping) return;
    try {
      await this.runConsumer();
    } catch (err) {
      this.log.error({ error: (err as Error).message }, 'the new Kafka consumer did not start; trying again');
      this.fetchedAt = 0;
    }
  }

  // ---- consuming -----------------------------------------------------------

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, pause } = payload;
    if (this.stopping || batch.topic !== this.topic) return;
    const state = await this.stateFor(batch.partition, heartbeat);
    if (state === undefined || this.stopping) return;
    // Synchronous from here: the epoch cannot change under this loop.
    let resolved: string | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || state.epoch !== this.epoch) break;
      const offset = BigInt(message.offset);
      if (state.next !== undefined && offset < state.next) {
        resolved = message.offset;
        continue;
      }
      if (!this.take(state, message, offset)) {
        // No room: what is left of this batch is fetched again after resume().
        pause();
        state.pausedFor.add('full');
        break;
      }
      resolved = message.offset;
    }
    // Moves kafkajs's fetch position only; the committed offset moves after the insert.
    if (resolved !== undefined) resolveOffset(resolved);
    // Caught up with the partition's end as of this fetch: a batch at least a quarter full (37,500
    // rows by default, a large insert by ClickHouse's measure) goes in now rather than waiting out
    // batchMs for rows that are not coming (the last batch of a drained backlog). Smaller ones
    // still wait, so a slow stream still makes few inserts.
    const open = state.open;
    const drained = resolved !== undefined && BigInt(resolved) + 1n >= BigInt(batch.highWatermark);
    if (drained && open !== undefined && open.replay === undefined && (open.rowCount * 4 >= this.batchRows || open.bytes * 4 >= this.batchBytes))
      this.sealWhenFree(state);
    // One turn of the event loop before kafkajs hands over the next partition's records: a flush
    // started above sends its intent and its insert now, so ClickHouse writes while this thread
    // decodes (kafkajs runs the batches of one fetch back to back, with only microtasks between).
    if (state.flushing !== undefined) await new Promise((r) => setImmediate(r));
  }

  /**
   * The state of a partition in the current epoch, loaded from the group's
   * committed offset and its intent. Undefined when the partition is not ours
   * (a batch fetched before a rebalance) or the epoch changed while loading.
   */
  private async stateFor(partition: number, heartbeat: () => Promise<void>): Promise<PartitionState | undefined> {
    const current = this.states.get(partition);
    if (current !== undefined) return current;
    if (!this.joined || !this.assigned.has(partition)) return undefined;
    const epoch = this.epoch;
    // A flush of an older epoch may still be inserting: let it end first, so
    // that two inserts of one range never overlap and its commits are seen.
    const previous = this.inflight.get(partition);
    if (previous !== undefined) await this.whileHeartbeating(previous, heartbeat);
    let committed: { offset: bigint | undefined; metadata: string | null };
    try {
      committed = await this.fetchCommitted(partition);
    } catch (err) {
      this.log.warn({ partition, error: (err as Error).message }, 'could not read the committed offset; the batch will be fetched again');
      await this.sleep(500);
      return undefined;
    }
    if (epoch !== this.epoch || this.states.has(partition)) return this.states.get(partition);
    const state: PartitionState = {
      partition,
      epoch,
      next: committed.offset,
      replay: undefined,
      windows: new ProducerWindows(),
      open: undefined,
      flushing: undefined,
      flushingRows: 0,
      timer: undefined,
      pausedFor: new Set(),
      hooks: {
        partition,
        spanConsumed: this.spansConsumed,
        refused: (code) => this.metrics.refusedParts.inc({ code }),
        log: this.log,
      },
    };
    const saved = parseCommitted(committed.metadata, committed.offset);
    state.replay = saved.replay;
    state.windows = ProducerWindows.parse(saved.windows);
    if (state.replay !== undefined) {
      this.log.info(
        { partition, first: String(state.replay.first), last: String(state.replay.last) },
        'replaying a batch that may have been inserted before a crash or rebalance',
      );
    }
    this.states.set(partition, state);
    return state;
  }

  private async fetchCommitted(partition: number): Promise<{ offset: bigint | undefined; metadata: string | null }> {
    const topics = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    const p = topics.find((t) => t.topic === this.topic)?.partitions.find((x) => x.partition === partition);
    if (p === undefined || !/^\d+$/.test(p.offset)) return { offset: undefined, metadata: null };
    return { offset: BigInt(p.offset), metadata: p.metadata };
  }

  private async whileHeartbeating(work: Promise<unknown>, heartbeat: () => Promise<void>): Promise<void> {
    let done = false;
    const settled = work.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    while (!done) {
      await Promise.race([settled, new Promise((r) => setTimeout(r, this.heartbeatMs))]);
      // kafkajs heartbeats only between batches: inside one, it is our job.
      if (!done) await heartbeat();
    }
  }

  /** Adds one record to the partition's open batch; false when there is no room (a sealed batch waits for the running flush). */
  private take(state: PartitionState, message: KafkaMessage, offset: bigint): boolean {
    if (state.open?.replay !== undefined && offset > state.open.replay.last) this.seal(state);
    if (state.open?.sealed === true) return false;
    if (state.open === undefined) {
      let replay = state.replay;
      state.replay = undefined;
      if (replay !== undefined && offset > replay.last) {
        this.log.warn(
          {
            partition: state.partition,
            first: String(replay.first),
            last: String(replay.last),
            offset: String(offset),
          },
          'the records of a committed intent are gone from the topic (retention); not replaying it',
        );
        replay = undefined;
      }
      state.open = {
        first: replay?.first ?? offset,
        last: offset,
        records: 0,
        rows: createEventBatch(this.ch, this.defaultTenant),
        keyed: [],
        keyedRows: 0,
        rowCount: 0,
        bytes: 0,
        deadLetters: [],
        windowsBefore: state.windows.serialize(),
        windowsAfter: '',
        replay,
        sealed: false,
        due: false,
      };
      // A replayed range is cut by its offsets only, never by time or size.
      if (replay === undefined) state.timer = setTimeout(() => this.onBatchTimer(state), this.batchMs);
    }
    const batch = state.open;
    const stamp = producerOf(message.headers);
    const verdict = stamp === undefined ? 'new' : state.windows.take(stamp);
    if (verdict === 'duplicate') {
      // A retried produce's second copy: same record, nothing of it is stored again.
      this.metrics.duplicates.inc({ reason: 'producer_retry' });
    } else {
      if (verdict === 'too-old') this.metrics.duplicates.inc({ reason: 'unchecked_too_old' });
      const token = idempotencyTokenOf(message.headers, state.partition);
      if (token === undefined) decodeRecord(message, batch, state.hooks);
      else {
        const rows = createEventBatch(this.ch, this.defaultTenant);
        decodeRecord(message, { rows, deadLetters: batch.deadLetters }, state.hooks);
        if (rows.total > 0) {
          batch.keyed.push({ token, rows });
          batch.keyedRows += rows.total;
        }
        this.metrics.keyedRecords.inc();
      }
    }
    batch.rowCount = batch.rows.total + batch.keyedRows;
    batch.bytes += message.value?.length ?? 0;
    batch.last = offset;
    batch.records++;
    state.next = offset + 1n;
    this.metrics.recordsConsumed.inc();
    // A batch ends after the record that reaches batchRows or batchBytes: rows of 1 MB (a log body at
    // gateway.maxSpanBytes) would otherwise fill a batch of batchRows with 150 GB.
    if (batch.replay !== undefined ? offset >= batch.replay.last : batch.rowCount >= this.batchRows || batch.bytes >= this.batchBytes) this.seal(state);
    return true;
  }

  private onBatchTimer(state: PartitionState): void {
    state.timer = undefined;
    this.sealWhenFree(state);
  }

  /** Seals the open batch, or, while an insert of the partition runs, marks it to be sealed when that ends. */
  private sealWhenFree(state: PartitionState): void {
    const batch = state.open;
    if (state.epoch !== this.epoch || batch === undefined || batch.sealed || batch.replay !== undefined) return;
    // While an insert runs the batch keeps filling; it is cut when that insert ends.
    if (state.flushing !== undefined) batch.due = true;
    else this.seal(state);
  }

  private seal(state: PartitionState): void {
    const batch = state.open;
    if (batch === undefined || batch.sealed) return;
    batch.sealed = true;
    batch.windowsAfter = state.windows.serialize();
    if (state.timer) {
      clearTimeout(state.timer);
      state.timer = undefined;
    }
    this.kick(state);
  }

  /** Starts the flush of the sealed batch when none is running. */
  private kick(state: PartitionState): void {
    const batch = state.open;
    if (state.flushing !== undefined || batch === undefined || !batch.sealed || state.epoch !== this.epoch) return;
    state.open = undefined;
    if (state.pausedFor.delete('full')) this.resumeIfFree(state);
    const range: Range = batch.replay ?? { first: batch.first, last: batch.last };
    state.flushingRows = batch.rowCount;
    const run = this.flush(state, batch, range);
    state.flushing = run;
    this.inflight.set(state.partition, run);
    void run.finally(() => {
      state.flushing = undefined;
      state.flushingRows = 0;
      if (this.inflight.get(state.partition) === run) this.inflight.delete(state.partition);
      if (state.epoch !== this.epoch || this.aborted) return;
      // The next batch: one already sealed (by size), or one whose batchMs passed meanwhile.
      if (state.open?.due === true) this.seal(state);
      this.kick(state);
    });
  }

  // ---- writing -------------------------------------------------------------

  /** One batch through its steps (see the top of this file). Never rejects. */
  private async flush(state: PartitionState, batch: Batch, range: Range): Promise<void> {
    const { partition } = state;
    const token = insertToken(this.topic, partition, range);
    const replay = batch.replay !== undefined;
    try {
      // A committed intent proves its dead letters were written: a replay skips them.
      if (batch.deadLetters.length > 0 && !replay) {
        await this.retrying(state, 'dead_letter', () => this.sendDeadLetters(partition, batch.deadLetters));
        for (const d of batch.deadLetters) this.metrics.deadLetters.inc({ code: d.code });
      }
      if (batch.rowCount > 0) {
        if (replay) this.metrics.replays.inc();
        else await this.retrying(state, 'commit', () => this.commit(state, range.first, intentOf(range, batch.windowsBefore)));
        const started = performance.now();
        await this.retrying(state, 'insert', () =>
          insertBatch(this.ch, batch.rows, token).catch((err: unknown) => {
            throw insertError(err);
          }),
        );
        // Keyed records under their own tokens: ClickHouse drops a record of a request it already has, whoever produced it.
        for (const k of batch.keyed) {
          await this.retrying(state, 'insert', () =>
            insertBatch(this.ch, k.rows, k.token).catch((err: unknown) => {
              throw insertError(err);
            }),
          );
        }
        this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
        this.metrics.batchRows.observe(batch.rowCount);
        this.metrics.batchBytes.observe(batch.bytes);
        for (const table of TABLES) {
          let n = batch.rows.count(table);
          for (const k of batch.keyed) n += k.rows.count(table);
          if (n > 0) this.metrics.rowsInserted.inc({ table }, n);
        }
        this.lastInsert = { ok: true, at: Date.now() };
        if (insertedChannel.hasSubscribers) {
          insertedChannel.publish({
            topic: this.topic,
            partition,
            first: String(range.first),
            last: String(range.last),
            token,
            rows: batch.rowCount,
            replay,
          } satisfies InsertedEvent);
        }
      }
      this.metrics.batchRecords.observe(batch.records);
      await this.retrying(state, 'commit', () => this.commit(state, range.last + 1n, doneOf(batch.windowsAfter)));
      if (committedChannel.hasSubscribers) committedChannel.publish({ topic: this.topic, partition, offset: String(range.last + 1n) });
    } catch (err) {
      if (MaterializerErrors.has(err) && err.code === 'MAT_ERR_FENCED') {
        this.metrics.abandoned.inc();
        this.log.info(
          {
            partition,
            first: String(range.first),
            last: String(range.last),
          },
          this.aborted ? 'batch not committed at stop; it will be read again' : 'batch abandoned after a rebalance; it will be read again',
        );
      } else {
        this.log.error({ partition, first: String(range.first), last: String(range.last), error: (err as Error).message }, 'batch failed');
      }
    }
  }

  /** Runs one step until it succeeds; stops (MAT_ERR_FENCED) when the epoch changes or stop() gives up. */
  private async retrying<T>(state: PartitionState, step: Step, attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      this.guard(state);
      try {
        const result = await attempt();
        if (n > 0) this.log.info({ partition: state.partition }, `${step} succeeded after ${n} failed attempts`);
        if (state.pausedFor.delete('failing')) this.resumeIfFree(state);
        return result;
      } catch (e) {
        if (MaterializerErrors.has(e) && e.code === 'MAT_ERR_FENCED') throw e;
        const err = MaterializerErrors.has(e)
          ? e
          : step === 'insert'
            ? insertError(e)
            : materializerError(step === 'commit' ? 'MAT_ERR_COMMIT_FAILED' : 'MAT_ERR_DLQ_WRITE_FAILED', (e as Error).message, { cause: e });
        this.metrics.retries.inc({ step, code: err.code });
        if (step === 'insert') this.lastInsert = { ok: false, at: Date.now(), error: err.message };
        // Rather than buffer while the backend is failing: stop fetching.
        this.pausePartition(state, 'failing');
        if (n === 0 || n % 10 === 0)
          this.log.warn({ partition: state.partition, attempt: n + 1, code: err.code, error: err.message }, `${step} failed, retrying`);
        await this.sleep(backoffMs(n, err.retriable));
      }
    }
  }

  private guard(state: PartitionState): void {
    if (this.aborted) throw materializerError('MAT_ERR_FENCED', 'stopping');
    if (state.epoch !== this.epoch) throw materializerError('MAT_ERR_FENCED');
  }

  /**
   * commitOffsets, made checkable: kafkajs silently skips a commit when its
   * runner is not running, and may retry one into a newer generation. The
   * COMMIT_OFFSETS event says it was done; an epoch change during it voids it.
   */
  private async commit(state: PartitionState, offset: bigint, metadata: string | null): Promise<void> {
    const key = `${state.partition}:${offset}`;
    this.commitsSeen.delete(key);
    const epoch = this.epoch;
    await this.consumer.commitOffsets([{ topic: this.topic, partition: state.partition, offset: String(offset), metadata }]);
    const seen = this.commitsSeen.delete(key);
    if (this.epoch !== epoch) throw materializerError('MAT_ERR_FENCED', 'the group rebalanced during the commit');
    if (!seen) throw materializerError('MAT_ERR_COMMIT_FAILED', 'kafkajs did not send the commit (the consumer is not running)');
  }

  private async sendDeadLetters(partition: number, letters: DeadLetter[]): Promise<void> {
    await this.producer
      .send({
        topic: this.dlqTopic,
        acks: -1,
        compression: compressionOf(this.config.kafka),
        messages: letters.map((d) => deadLetterMessage(d, { topic: this.topic, partition })),
      })
      .catch((err: unknown) => {
        throw materializerError('MAT_ERR_DLQ_WRITE_FAILED', (err as Error).message, { cause: err });
      });
  }

  // ---- pause / resume --------------------------------------------------------

  private pausePartition(state: PartitionState, why: 'full' | 'failing'): void {
    if (state.epoch !== this.epoch) return;
    state.pausedFor.add(why);
    try {
      this.consumer.pause([{ topic: this.topic, partitions: [state.partition] }]);
    } catch {
      // not running (crashed or stopping): nothing is fetched anyway
    }
  }

  private resumeIfFree(state: PartitionState): void {
    if (state.pausedFor.size === 0 && state.epoch === this.epoch) this.kafkaResume([state.partition]);
  }

  private kafkaResume(partitions: number[]): void {
    try {
      this.consumer.resume([{ topic: this.topic, partitions }]);
    } catch {
      // not running
    }
  }

  /** A sleep that ends early on a new epoch or on stop. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  // ---- observing -------------------------------------------------------------

  private bufferedRows(): number {
    let n = 0;
    for (const s of this.states.values()) n += (s.open?.rowCount ?? 0) + s.flushingRows;
    return n;
  }

  status(): MaterializerStatus {
    const states = [...this.states.values()];
    return {
      ready: this.joined && !this.stopping && this.lastInsert.ok,
      joined: this.joined,
      stopping: this.stopping,
      assigned: [...this.assigned].sort((a, b) => a - b),
      paused: states
        .filter((s) => s.pausedFor.size > 0)
        .map((s) => s.partition)
        .sort((a, b) => a - b),
      bufferedRows: this.bufferedRows(),
      inFlightBatches: this.inflight.size,
      lastInsert: { ...this.lastInsert },
    };
  }

  async refreshLag(): Promise<void> {
    if (!this.started || Date.now() - this.lagAt < 1_000) return;
    this.lagAt = Date.now();
    const [ends, groups] = await Promise.all([
      this.admin.fetchTopicOffsets(this.topic),
      this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
    ]);
    const committed = new Map((groups.find((t) => t.topic === this.topic)?.partitions ?? []).map((p) => [p.partition, p.offset]));
    for (const end of ends) {
      const c = committed.get(end.partition);
      const from = c !== undefined && /^\d+$/.test(c) ? BigInt(c) : BigInt(end.low);
      const lag = BigInt(end.high) - from;
      this.metrics.lag.set(Number(lag > 0n ? lag : 0n), { partition: String(end.partition) });
    }
  }

  // ---- stopping --------------------------------------------------------------

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.watchdog) clearInterval(this.watchdog);
    await this.restarting;
    if (this.started) {
      // Nothing new is taken from here on; without a pause kafkajs would fetch the same records again and again.
      try {
        this.consumer.pause([{ topic: this.topic }]);
      } catch {
        // not running
      }
      // Write what is buffered. A replay not yet complete is left to the next owner.
      for (const s of this.states.values()) if (s.open !== undefined && s.open.replay === undefined) this.seal(s);
      const deadline = Date.now() + (this.options.stopTimeoutMs ?? 15_000);
      const busy = (): boolean => [...this.states.values()].some((s) => s.flushing !== undefined || s.open?.sealed === true);
      // Poll with a timer: a loop that only awaits settled promises would starve the event loop (and kafkajs's heartbeats).
      while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (busy()) this.log.warn({ partitions: [...this.inflight.keys()] }, 'stopping with batches not committed; they will be read again (and deduplicated)');
      this.aborted = true;
      this.wakeSleepers();
      await Promise.race([Promise.allSettled([...this.inflight.values()]), new Promise((r) => setTimeout(r, 2_000))]);
      for (const s of this.states.values()) if (s.timer) clearTimeout(s.timer);
      await this.consumer.disconnect().catch(() => undefined);
      await this.producer.disconnect().catch(() => undefined);
      await this.admin.disconnect().catch(() => undefined);
    }
    this.joined = false;
    this.log.info('materializer stopped');
  }
}

/**
 * The Kafka -> ClickHouse materializer of distributed mode: a member of the
 * consumer group `kafka.consumerGroup` on `kafka.spansTopic` (run more
 * processes to scale out, up to one per partition). Exactly once into the
 * event tables across crashes and rebalances; see docs/architecture.md.
 */
export function createMaterializer(config: Readonly<Config>, ch: ClickHouse, options: MaterializerOptions = {}): Materializer {
  return new KafkaMaterializer(config, ch, options);
}
