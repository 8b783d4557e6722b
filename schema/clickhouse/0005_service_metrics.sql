-- Per-service latency from trace spans, beside ssf.span.duration: the same
-- values summarized by service and error only (histogram in ms), so a
-- question about a service reads one series per service and error instead of
-- one per operation (a day of p99 for a service of 50 operations merges 50x
-- fewer sketches). The metric query reads it in place of ssf.span.duration
-- when the question does not involve the name tag (docs/query/metrics.md).
-- - ssf.service.duration   every trace span; tags service, error
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.service_metrics_1m_mv TO ${db}.metrics_1m AS
SELECT
    tenant,
    'ssf.service.duration' AS name,
    CAST('histogram', 'Enum8(\'counter\' = 0, \'gauge\' = 1, \'histogram\' = 2, \'set\' = 3, \'status\' = 4)') AS type,
    cityHash64(mapSort(metric_tags)) AS tags_hash,
    bucket,
    any(metric_tags) AS tags,
    'ms' AS unit,
    any(span_service) AS service,
    toFloat64(count()) AS count,
    sum(duration_ms) AS sum,
    min(duration_ms) AS min,
    max(duration_ms) AS max,
    argMaxState(duration_ms, span_start) AS last,
    quantileDDState(0.01, 0.5)(duration_ms) AS quantiles,
    uniqHLL12StateIf('', false) AS uniq,
    argMaxStateIf(toUInt8(0), span_start, false) AS last_status
FROM
(
    SELECT
        tenant, service AS span_service, start AS span_start, toStartOfMinute(start) AS bucket,
        duration_ns / 1e6 AS duration_ms,
        map('service', toString(service), 'error', toString(error)) AS metric_tags
    FROM ${db}.spans
)
GROUP BY tenant, tags_hash, bucket;
