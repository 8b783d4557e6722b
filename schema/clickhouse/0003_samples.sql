-- Every metric sample as received, ordered by series (name, then tag set).
CREATE TABLE IF NOT EXISTS ${db}.samples
(
    tenant       LowCardinality(String),
    name         LowCardinality(String),
    type         Enum8('counter' = 0, 'gauge' = 1, 'histogram' = 2, 'set' = 3, 'status' = 4),
    timestamp    DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    value        Float64 CODEC(ZSTD(1)),
    sample_rate  Float32 CODEC(ZSTD(1)),
    message      String CODEC(ZSTD(1)),
    status       Enum8('ok' = 0, 'warning' = 1, 'critical' = 2, 'unknown' = 3),
    unit         LowCardinality(String),
    scope        Enum8('default' = 0, 'local' = 1, 'global' = 2),
    tags         Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    service      LowCardinality(String),
    trace_id     Int64,
    span_id      Int64,
    INDEX idx_tag_values mapValues(tags) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (tenant, name, cityHash64(mapSort(tags)), timestamp)
TTL toDateTime(timestamp) + toIntervalDay(${ttl_samples_days})
-- shard: cityHash64(name, tags)
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

-- Rollups: one row per (tenant, name, type, tag set, minute), merged in the
-- background. count and sum weigh each sample by 1 / sample_rate (Veneur's
-- rule: a counter's total is sum(value / rate)). Gauges:
-- last value. Histograms/timers: DDSketch (1% relative error), min, max,
-- count, sum. Sets: HyperLogLog (uniqHLL12). Status checks: last status.
CREATE TABLE IF NOT EXISTS ${db}.metrics_1m
(
    tenant       LowCardinality(String),
    name         LowCardinality(String),
    type         Enum8('counter' = 0, 'gauge' = 1, 'histogram' = 2, 'set' = 3, 'status' = 4),
    tags_hash    UInt64,
    bucket       DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)),
    tags         SimpleAggregateFunction(any, Map(String, String)),
    unit         SimpleAggregateFunction(any, LowCardinality(String)),
    service      SimpleAggregateFunction(any, LowCardinality(String)),
    count        SimpleAggregateFunction(sum, Float64),
    sum          SimpleAggregateFunction(sum, Float64),
    min          SimpleAggregateFunction(min, Float64),
    max          SimpleAggregateFunction(max, Float64),
    last         AggregateFunction(argMax, Float64, DateTime64(9, 'UTC')),
    quantiles    AggregateFunction(quantileDD(0.01, 0.5), Float64),
    uniq         AggregateFunction(uniqHLL12, String),
    last_status  AggregateFunction(argMax, UInt8, DateTime64(9, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(bucket)
ORDER BY (tenant, name, type, tags_hash, bucket)
TTL bucket + toIntervalDay(${ttl_rollup_1m_days})
-- shard: cityHash64(name, tags_hash)
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS ${db}.metrics_1h AS ${db}.metrics_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, name, type, tags_hash, bucket)
TTL bucket + toIntervalDay(${ttl_rollup_1h_days})
-- shard: cityHash64(name, tags_hash)
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.metrics_1m_mv TO ${db}.metrics_1m AS
SELECT
    tenant,
    name,
    type,
    tags_hash,
    bucket,
    any(s_tags) AS tags,
    any(s_unit) AS unit,
    any(s_service) AS service,
    sum(weight) AS count,
    sum(s_value * weight) AS sum,
    min(s_value) AS min,
    max(s_value) AS max,
    argMaxState(s_value, s_timestamp) AS last,
    quantileDDStateIf(0.01, 0.5)(s_value, type = 'histogram') AS quantiles,
    uniqHLL12StateIf(s_message, type = 'set') AS uniq,
    argMaxStateIf(toUInt8(s_status), s_timestamp, type = 'status') AS last_status
FROM
(
    SELECT tenant, name, type, cityHash64(mapSort(tags)) AS tags_hash, toStartOfMinute(timestamp) AS bucket,
           tags AS s_tags, unit AS s_unit, service AS s_service,
           -- sample_rate is Float32: read it back as the decimal that was sent (0.1, not 0.100000001)
           1 / toFloat64(toString(sample_rate)) AS weight, value AS s_value,
           timestamp AS s_timestamp, message AS s_message, status AS s_status
    FROM ${db}.samples
)
GROUP BY tenant, name, type, tags_hash, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.metrics_1h_mv TO ${db}.metrics_1h AS
SELECT
    tenant,
    name,
    type,
    tags_hash,
    hour AS bucket,
    any(m_tags) AS tags,
    any(m_unit) AS unit,
    any(m_service) AS service,
    sum(m_count) AS count,
    sum(m_sum) AS sum,
    min(m_min) AS min,
    max(m_max) AS max,
    argMaxMergeState(m_last) AS last,
    quantileDDMergeState(0.01, 0.5)(m_quantiles) AS quantiles,
    uniqHLL12MergeState(m_uniq) AS uniq,
    argMaxMergeState(m_last_status) AS last_status
FROM
(
    SELECT tenant, name, type, tags_hash, toStartOfHour(bucket) AS hour, tags AS m_tags, unit AS m_unit,
           service AS m_service, count AS m_count, sum AS m_sum, min AS m_min, max AS m_max, last AS m_last,
           quantiles AS m_quantiles, uniq AS m_uniq, last_status AS m_last_status
    FROM ${db}.metrics_1m
)
GROUP BY tenant, name, type, tags_hash, hour;
