-- The rollups in 256-row granules. A metric query reads a few series out of
-- many, and ClickHouse deserializes every row of each granule it reads: with
-- 8192-row granules, a day of one service's p99 decoded ~40,000 DDSketch
-- states of neighbouring series (about 2.6 us each) to use 1,000. Their rows
-- are large states and their queries narrow, so small granules cost little
-- index (one mark per 256 rows) and save most of the reading.
--
-- index_granularity cannot be altered, so each rollup is created anew here as
-- <name>_0006 and swapped in by src/clickhouse/migration-steps.ts after these
-- statements: EXCHANGE TABLES (atomic: the views always find their target),
-- then every partition of the old table is moved into the new one (no view
-- fires, nothing is copied twice), the old table is dropped and the moved
-- partitions are rewritten in the new granules (OPTIMIZE ... FINAL).
CREATE TABLE IF NOT EXISTS ${db}.metrics_1m_0006 AS ${db}.metrics_1m
ENGINE = AggregatingMergeTree
PARTITION BY toDate(bucket)
ORDER BY (tenant, name, type, tags_hash, bucket)
TTL bucket + toIntervalDay(${ttl_rollup_1m_days})
-- shard: cityHash64(name, tags_hash)
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS ${db}.metrics_1h_0006 AS ${db}.metrics_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, name, type, tags_hash, bucket)
TTL bucket + toIntervalDay(${ttl_rollup_1h_days})
-- shard: cityHash64(name, tags_hash)
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
