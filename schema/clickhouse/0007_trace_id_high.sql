-- 128-bit trace ids (OpenTelemetry, W3C): the high 64 bits beside the low
-- 64 bits that `trace_id` has always held. Veneur's 64-bit ids have 0 here
-- and read exactly as before; every key, index and shard stays on the low
-- 64 bits (random for OTLP ids, so a trace is still one small key range),
-- and readers that are given a 128-bit id also match the high half.
ALTER TABLE ${db}.spans ADD COLUMN IF NOT EXISTS trace_id_high Int64 DEFAULT 0 CODEC(ZSTD(1));

ALTER TABLE ${db}.logs ADD COLUMN IF NOT EXISTS trace_id_high Int64 DEFAULT 0 CODEC(ZSTD(1));

ALTER TABLE ${db}.samples ADD COLUMN IF NOT EXISTS trace_id_high Int64 DEFAULT 0 CODEC(ZSTD(1));

-- max: deterministic when rows merge (all spans of a trace carry the same value).
ALTER TABLE ${db}.trace_index ADD COLUMN IF NOT EXISTS trace_id_high SimpleAggregateFunction(max, Int64) DEFAULT 0;

ALTER TABLE ${db}.trace_index_mv MODIFY QUERY
SELECT
    tenant,
    trace_id,
    max(span_trace_id_high) AS trace_id_high,
    min(span_start) AS start,
    max(span_end) AS end,
    count() AS spans,
    countIf(span_error) AS errors,
    groupUniqArray(span_service) AS services
FROM
(
    SELECT tenant, trace_id, trace_id_high AS span_trace_id_high, start AS span_start,
           start + toIntervalNanosecond(duration_ns) AS span_end,
           error AS span_error, toString(service) AS span_service
    FROM ${db}.spans
)
GROUP BY tenant, trace_id;
