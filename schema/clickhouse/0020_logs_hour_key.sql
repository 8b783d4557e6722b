-- Logs keyed by the hour before the service: sort key
-- (tenant, toStartOfHour(timestamp), service, timestamp), primary key
-- (tenant, toStartOfHour(timestamp), service).
--
-- With the key (tenant, service, timestamp), a search over a time window and
-- no service (the usual one) could not find its marks by binary search: the
-- window is on the third key column, so ClickHouse ran its generic exclusion
-- search, which tests every mark inside the window one by one (about 0.8 us a
-- mark): 7-9 ms of a search over a day of 10M lines (9,774 marks), more than
-- a quarter of a rare word's whole statement. With the hour second and the
-- timestamp out of the primary key, `tenant = ? AND timestamp in [a, b]` is a
-- range of the key's prefix (ClickHouse maps the timestamp bounds to their
-- hours) and is found by binary search (0.1 ms); within the hours at the
-- window's ends, the min-max index on `timestamp` (0014) skips the granules.
-- Measured on that day (ClickHouse's time, p50 of 15, statements as the API
-- sends them): a rare word over the day 32 -> 26 ms; two common words in the
-- first window 18 -> 14; the newest 100 lines, no words, 30 -> 23; a service
-- and a rare word over the day 8 -> 9; a trace's logs (2 minutes, trace id)
-- 6 -> 7. Rows of a service are now together within an hour instead of a
-- day: 3.7 % more disk on that data.
--
-- A primary key cannot be altered, nor parts moved between tables of
-- different keys: the table is created anew as logs_0020 and swapped in by
-- src/clickhouse/migration-steps.ts after these statements, which copies the
-- old table's rows into it part by part through logs_0020_copy (below) and
-- drops each copied part from the old table.
CREATE TABLE IF NOT EXISTS ${db}.logs_0020 AS ${db}.logs
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (tenant, toStartOfHour(timestamp), service, timestamp)
PRIMARY KEY (tenant, toStartOfHour(timestamp), service)
TTL toDateTime(timestamp) + toIntervalDay(${ttl_logs_days})
-- shard: cityHash64(trace_id, span_id, service, body)
SETTINGS index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 65536, non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

-- The step's staging table: each part of the old table is copied into it,
-- dropped from the old table, then moved into the new table (MOVE PARTITION,
-- atomic); its comment names the part in flight. Only the step writes here,
-- so its deduplication log holds nothing but the copies' blocks: a part
-- copied again after an interruption (its first blocks already here, not
-- yet moved) adds only the blocks it lacked, however long the pause and
-- whatever the writers did meanwhile. The logs' TTL, so that the moved parts
-- carry it; no merges (a part in flight stays as written). Dropped by the
-- step when it is done.
CREATE TABLE IF NOT EXISTS ${db}.logs_0020_copy AS ${db}.logs_0020
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (tenant, toStartOfHour(timestamp), service, timestamp)
PRIMARY KEY (tenant, toStartOfHour(timestamp), service)
TTL toDateTime(timestamp) + toIntervalDay(${ttl_logs_days})
SETTINGS index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 65536, non_replicated_deduplication_window = 10000, replicated_deduplication_window = 10000, replicated_deduplication_window_seconds = 31536000, ttl_only_drop_parts = 1, max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1;

-- otel_logs (0017) again, with one change: Timestamp is `timestamp` itself,
-- as 0017 did for otel_traces. The cast it had (to DateTime64(9), which keeps
-- the column's time zone: the same type) hid `timestamp` from the new key,
-- whose column is a function of it (toStartOfHour): ClickHouse (26.7)
-- relates a condition on `timestamp` to that key column, not a condition on
-- a cast of it. Grafana's `Timestamp >= ... AND Timestamp <= ...` over an
-- hour of the query bench's 10M lines took 57 ms through the cast (every
-- granule of the tenant through the min-max index) and 9 ms on `timestamp`.
CREATE OR REPLACE VIEW ${db}.otel_logs AS
SELECT
    timestamp AS Timestamp,
    if(trace_id = 0, '', lower(concat(leftPad(hex(toUInt64(trace_id_high)), 16, '0'), leftPad(hex(toUInt64(trace_id)), 16, '0')))) AS TraceId,
    if(span_id = 0, '', lower(leftPad(hex(toUInt64(span_id)), 16, '0'))) AS SpanId,
    toUInt8OrZero(attributes['otel.flags']) AS TraceFlags,
    CAST(if(attributes['otel.severity_text'] != '', attributes['otel.severity_text'], if(severity = 'unspecified', '', upper(toString(severity))))
         AS LowCardinality(String)) AS SeverityText,
    severity_number AS SeverityNumber,
    service AS ServiceName,
    body AS Body,
    CAST('' AS LowCardinality(String)) AS ResourceSchemaUrl,
    CAST(mapConcat(if(service = '', map(), map('service.name', toString(service))),
                   mapApply((k, v) -> (substring(k, 15), v), mapFilter((k, v) -> startsWith(k, 'otel.resource.'), attributes)))
         AS Map(LowCardinality(String), String)) AS ResourceAttributes,
    CAST('' AS LowCardinality(String)) AS ScopeSchemaUrl,
    attributes['otel.scope.name'] AS ScopeName,
    CAST(attributes['otel.scope.version'] AS LowCardinality(String)) AS ScopeVersion,
    CAST(mapApply((k, v) -> (substring(k, 23), v), mapFilter((k, v) -> startsWith(k, 'otel.scope.attributes.'), attributes))
         AS Map(LowCardinality(String), String)) AS ScopeAttributes,
    CAST(mapFilter((k, v) -> NOT (startsWith(k, 'otel.resource.') OR startsWith(k, 'otel.scope.')
                                  OR k IN ('otel.severity_text', 'otel.observed_time_unix_nano', 'otel.event_name', 'otel.flags', 'otel.dropped_attributes_count')), attributes)
         AS Map(LowCardinality(String), String)) AS LogAttributes,
    attributes['otel.event_name'] AS EventName
FROM ${db}.logs
WHERE attributes['otel.span_event'] = '';
