-- Metrics derived from trace spans, written into the same rollups as
-- client metrics (so one query API serves both), as histograms in ms:
-- - ssf.span.duration        every trace span; tags service, name, error
-- - ssf.indicator.duration   indicator spans (Veneur's indicator timer); tags service, error
-- - ssf.objective.duration   indicator spans (Veneur's objective timer); tags service, objective, error
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.span_metrics_1m_mv TO ${db}.metrics_1m AS
SELECT
    tenant,
    metric AS name,
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
        arrayJoin(
            arrayConcat(
                [('ssf.span.duration', map('service', toString(service), 'name', toString(name), 'error', toString(error)))],
                if(indicator,
                   [('ssf.indicator.duration', map('service', toString(service), 'error', toString(error))),
                    ('ssf.objective.duration', map('service', toString(service), 'objective', toString(name), 'error', toString(error)))],
                   [])
            )
        ) AS metric_pair,
        metric_pair.1 AS metric,
        metric_pair.2 AS metric_tags
    FROM ${db}.spans
)
GROUP BY tenant, metric, tags_hash, bucket;
