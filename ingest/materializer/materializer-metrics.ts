import { Registry } from '../../src/observability/prometheus.js';

const SIZE_BUCKETS = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The materializer's numbers on /metrics (docs/architecture.md, "Self-observability"). */
export class MaterializerMetrics {
  readonly registry = new Registry();
  readonly recordsConsumed = this.registry.counter(
    'ssf_materializer_records_consumed_total',
    'Kafka records taken from the spans topic (a batch replayed after a restart or rebalance counts again).',
  );
  readonly spansConsumed = this.registry.counter(
    'ssf_materializer_spans_consumed_total',
    'Valid spans read from those records (an SSFBatch record holds many).',
  );
  readonly rowsInserted = this.registry.counter(
    'ssf_materializer_rows_inserted_total',
    'Rows in inserts ClickHouse acknowledged, by table (a replayed batch that ClickHouse deduplicated counts again).',
    ['table'],
  );
  readonly insertSeconds = this.registry.histogram(
    'ssf_materializer_insert_duration_seconds',
    'Time of one acknowledged batch insert (all tables), retries excluded.',
    SECONDS_BUCKETS,
  );
  readonly batchRows = this.registry.histogram('ssf_materializer_batch_rows', 'Rows per inserted batch.', SIZE_BUCKETS);
  readonly batchRecords = this.registry.histogram('ssf_materializer_batch_records', 'Kafka records per batch.', SIZE_BUCKETS);
  readonly batchBytes = this.registry.histogram(
    'ssf_materializer_batch_bytes',
    'Bytes of Kafka records (decompressed) per inserted batch.',
    [1_024, 65_536, 1_048_576, 8_388_608, 33_554_432, 134_217_728],
  );
  readonly deadLetters = this.registry.counter('ssf_materializer_dead_letter_total', 'Records written to the dead-letter topic, by MAT_ERR_* code.', ['code']);
  readonly refusedParts = this.registry.counter(
    'ssf_materializer_refused_parts_total',
    'Samples and log records refused inside otherwise valid spans, by SSF_* code.',
    ['code'],
  );
  readonly retries = this.registry.counter(
    'ssf_materializer_retries_total',
    'Failed attempts that were retried, by step (insert, dead_letter, commit) and MAT_ERR_* code.',
    ['step', 'code'],
  );
  readonly replays = this.registry.counter(
    'ssf_materializer_replayed_batches_total',
    'Batches rebuilt from a committed intent after a restart or rebalance and inserted again with their original token.',
  );
  readonly abandoned = this.registry.counter(
    'ssf_materializer_abandoned_batches_total',
    'Batches dropped before their next step because the group rebalanced (MAT_ERR_FENCED); they are read again.',
  );
  readonly duplicates = this.registry.counter(
    'ssf_materializer_duplicates_dropped_total',
    'Records dropped as the copy of a record already taken (reason producer_retry: same ssf-producer id and sequence); reason unchecked_too_old counts records taken although their sequence was below the window, where a copy cannot be recognised.',
    ['reason'],
  );
  readonly keyedRecords = this.registry.counter(
    'ssf_materializer_keyed_records_total',
    'Records of requests sent with an Idempotency-Key, each inserted under its own token (ClickHouse drops the ones it already has).',
  );
  readonly rebalances = this.registry.counter('ssf_materializer_rebalances_total', 'Group joins, rebalances and consumer restarts seen.');
  readonly stalls = this.registry.counter(
    'ssf_materializer_consumer_stalls_total',
    'Times the Kafka consumer stopped fetching with ClickHouse healthy and was replaced by a new one (MAT_ERR_CONSUMER_STALLED).',
  );
  readonly lag = this.registry.gauge(
    'ssf_materializer_consumer_lag',
    'Records between the committed offset and the end of the partition (refreshed on scrape, at most once a second).',
    ['partition'],
  );
  readonly paused = this.registry.gauge('ssf_materializer_partitions_paused', 'Partitions paused because their buffer is full or ClickHouse/Kafka is failing.');
  readonly assigned = this.registry.gauge('ssf_materializer_partitions_assigned', 'Partitions of the spans topic assigned to this member.');
  readonly bufferedRows = this.registry.gauge('ssf_materializer_buffered_rows', 'Rows held in memory (batches being filled or written).');
}
