-- Log records (our SSF extension). Ordered for time-bounded search per
-- service; the body has a full-text index (${body_index_kind}).
CREATE TABLE IF NOT EXISTS ${db}.logs
(
    tenant           LowCardinality(String),
    service          LowCardinality(String),
    timestamp        DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    severity         Enum8('unspecified' = 0, 'trace' = 1, 'debug' = 2, 'info' = 3, 'warn' = 4, 'error' = 5, 'fatal' = 6),
    severity_number  UInt8,
    body             String CODEC(ZSTD(1)),
    trace_id         Int64,
    span_id          Int64,
    attributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX idx_body body TYPE ${body_index} GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (tenant, service, timestamp)
TTL toDateTime(timestamp) + toIntervalDay(${ttl_logs_days})
-- shard: cityHash64(trace_id, span_id, timestamp)
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
