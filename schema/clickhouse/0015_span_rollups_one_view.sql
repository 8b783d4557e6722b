-- The span rollups in one view. span_metrics_1m_mv (0004) and
-- service_metrics_1m_mv (0005) each wrote a part of metrics_1m per insert
-- into `spans`, and each of those a part of metrics_1h through
-- metrics_1h_mv: four rollup parts per insert, most of ClickHouse's cost of
-- an insert of a few thousand spans. ssf.service.duration now joins the
-- array span_metrics_1m_mv already expands (the same rows into metrics_1m:
-- one more element per span), and service_metrics_1m_mv goes.
--
-- Exactly once across the change: an insert into `spans` takes its views
-- (and the table's constraints) as they are when it starts, so the change
-- is made while `spans` refuses every insert (a constraint no row meets:
-- the insert fails with VIOLATED_CONSTRAINT before it writes anything, and
-- the writers retry it as they retry any failed insert; one already running
-- finishes with the two old views). No insert sees the new view beside the
-- old one, or neither. Reads are not affected. A run interrupted in between
-- leaves the constraint (inserts keep failing and being retried, nothing is
-- lost) and runs again from the top: every statement is idempotent.
-- alter_sync = 2: on a replicated cluster, every replica has the constraint
-- before any view changes (by default an ALTER waits for one replica).
ALTER TABLE ${db}.spans ADD CONSTRAINT IF NOT EXISTS migration_0015_in_progress CHECK 0 SETTINGS alter_sync = 2;

ALTER TABLE ${db}.span_metrics_1m_mv MODIFY QUERY
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
                [('ssf.span.duration', map('service', toString(service), 'name', toString(name), 'error', toString(error))),
                 ('ssf.service.duration', map('service', toString(service), 'error', toString(error)))],
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

DROP VIEW IF EXISTS ${db}.service_metrics_1m_mv;

ALTER TABLE ${db}.spans DROP CONSTRAINT IF EXISTS migration_0015_in_progress SETTINGS alter_sync = 2;
