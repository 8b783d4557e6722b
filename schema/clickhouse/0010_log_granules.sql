-- The logs in 1024-row granules and small compressed blocks. A search reads
-- the few rows its words are in (the text index on body gives their row
-- numbers), but ClickHouse decompresses and deserializes the whole granule
-- and compressed block around each row it reads: with 8192-row granules and
-- 64 KiB blocks, a rare word found in 100 granules of 10M lines made it
-- decompress ~100 MB for 100 rows (docs/query/logs.md, "Performance").
-- Granules of 1024 rows and blocks of 8-64 KiB read about a tenth of that;
-- the primary index grows to one mark per 1024 rows (10k marks per 10M lines).
--
-- index_granularity cannot be altered, so the table is created anew as
-- logs_0010 and swapped in by src/clickhouse/migration-steps.ts after this
-- statement, as 0006 did for the rollups: EXCHANGE TABLES, the old
-- partitions moved in, the old table dropped, the moved partitions
-- rewritten in the new granules (OPTIMIZE ... FINAL).
CREATE TABLE IF NOT EXISTS ${db}.logs_0010 AS ${db}.logs
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (tenant, service, timestamp)
TTL toDateTime(timestamp) + toIntervalDay(${ttl_logs_days})
-- shard: cityHash64(trace_id, span_id, timestamp)
SETTINGS index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 65536, non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
