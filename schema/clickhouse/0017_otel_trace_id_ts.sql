-- Grafana's trace view, fast on the OTel views (docs/grafana.md, "Trace by
-- id"). The ClickHouse data source looks for `<traces table>_trace_id_ts`
-- (TraceId, Start, End) and, when it is there, reads a trace as
--   WITH '<id>' AS id, (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = id) AS s,
--        (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId = id) AS e
--   SELECT ... FROM otel_traces WHERE TraceId = id AND Timestamp >= s AND Timestamp <= e
-- without it, `otel_traces WHERE TraceId = '<id>'` alone: every span of the
-- tenant, since TraceId is hex text computed from two Int64 columns and no
-- key condition can be derived from an equality on it (hex, leftPad, concat
-- and lower carry no monotonicity: EXPLAIN indexes=1 shows the tenant alone).
-- Measured on 3M spans in 1.5M traces over a day (docs/grafana.md): the
-- plugin's trace by id read 2,703,360 rows without this migration, 40,960
-- with it (a granule of trace_index per lookup, three of spans).
--
-- The exporter's companion table, as a plain view over trace_index (its
-- column names and types: Start and End in seconds, docs/reference/
-- otel-exporter-tables.sql; the plugin's `max(End) + 1` covers the rest of
-- the last second). End is the trace's last span end, the exporter's the
-- last span start: a bound at least as wide. Rows of a trace not yet merged
-- by the AggregatingMergeTree read as several rows, as the exporter's table
-- has one row per insert block of a trace: readers take min(Start) and
-- max(End). trace_index is a public table, so the query API's tenant filter
-- applies inside this view as it does in the others.
CREATE VIEW IF NOT EXISTS ${db}.otel_traces_trace_id_ts AS
SELECT
    lower(concat(leftPad(hex(toUInt64(trace_id_high)), 16, '0'), leftPad(hex(toUInt64(trace_id)), 16, '0'))) AS TraceId,
    toDateTime(start) AS Start,
    toDateTime(end) AS End
FROM ${db}.trace_index;

-- The lookup by TraceId: a bloom filter on the very expression the view
-- exposes (ClickHouse matches a skip index by expression, through the view),
-- so `TraceId = '<id>'` reads the few granules that may hold the trace
-- instead of the tenant's every trace. 0.001: at 8,192 traces a granule,
-- 1.9 bytes per trace (trace_index holds ~29.5 bytes per trace).
ALTER TABLE ${db}.trace_index ADD INDEX IF NOT EXISTS idx_trace_id_hex
    lower(concat(leftPad(hex(toUInt64(trace_id_high)), 16, '0'), leftPad(hex(toUInt64(trace_id)), 16, '0'))) TYPE bloom_filter(0.001) GRANULARITY 1;

-- Build it for the parts already written (a background mutation; until it is
-- done, those parts are read as before).
ALTER TABLE ${db}.trace_index MATERIALIZE INDEX idx_trace_id_hex;

-- otel_traces (0008) again, with one change: Timestamp is `start` itself.
-- 0008 had CAST(start AS DateTime64(9)), which is the same type
-- (DateTime64(9, 'UTC'): the cast keeps the time zone) but hides `start`
-- from spans' key (tenant, toStartOfTenMinutes(start), trace_id): ClickHouse
-- (26.7) relates a condition on a cast of `start` to a key column that is
-- `start` (as in `logs`, whose otel_logs keeps its cast), not to one that is
-- a function of it. `Timestamp >= s AND Timestamp <= e` then narrowed nothing
-- past the parts' min-max; on `start` it reads the trace's ten-minute buckets.
CREATE OR REPLACE VIEW ${db}.otel_traces AS
SELECT
    start AS Timestamp,
    lower(concat(leftPad(hex(toUInt64(trace_id_high)), 16, '0'), leftPad(hex(toUInt64(trace_id)), 16, '0'))) AS TraceId,
    lower(leftPad(hex(toUInt64(span_id)), 16, '0')) AS SpanId,
    if(parent_id = 0, '', lower(leftPad(hex(toUInt64(parent_id)), 16, '0'))) AS ParentSpanId,
    tags['otel.trace_state'] AS TraceState,
    name AS SpanName,
    CAST(if(tags['otel.span_kind'] = '', 'Unspecified', tags['otel.span_kind']) AS LowCardinality(String)) AS SpanKind,
    service AS ServiceName,
    CAST(mapConcat(if(service = '', map(), map('service.name', toString(service))),
                   mapApply((k, v) -> (substring(k, 15), v), mapFilter((k, v) -> startsWith(k, 'otel.resource.'), tags)))
         AS Map(LowCardinality(String), String)) AS ResourceAttributes,
    tags['otel.scope.name'] AS ScopeName,
    tags['otel.scope.version'] AS ScopeVersion,
    CAST(mapFilter((k, v) -> NOT (startsWith(k, 'otel.resource.') OR startsWith(k, 'otel.scope.')
                                  OR k IN ('otel.span_kind', 'otel.status_code', 'otel.status_message', 'otel.trace_state', 'otel.links',
                                           'otel.dropped_attributes_count', 'otel.dropped_events_count', 'otel.dropped_links_count')), tags)
         AS Map(LowCardinality(String), String)) AS SpanAttributes,
    toUInt64(duration_ns) AS Duration,
    CAST(if(tags['otel.status_code'] != '', tags['otel.status_code'], if(error, 'Error', 'Unset')) AS LowCardinality(String)) AS StatusCode,
    tags['otel.status_message'] AS StatusMessage,
    CAST([] AS Array(DateTime64(9))) AS `Events.Timestamp`,
    CAST([] AS Array(LowCardinality(String))) AS `Events.Name`,
    CAST([] AS Array(Map(LowCardinality(String), String))) AS `Events.Attributes`,
    JSONExtract(tags['otel.links'], 'Array(Tuple(trace_id String, span_id String, trace_state String, attributes Map(String, String)))') AS links_,
    arrayMap(l -> l.1, links_) AS `Links.TraceId`,
    arrayMap(l -> l.2, links_) AS `Links.SpanId`,
    arrayMap(l -> l.3, links_) AS `Links.TraceState`,
    CAST(arrayMap(l -> l.4, links_) AS Array(Map(LowCardinality(String), String))) AS `Links.Attributes`
FROM ${db}.spans;

-- otel_logs (0008) again, with one change: SeverityText falls back to our
-- severity (upper case, as OTel's texts are: INFO, WARN) when the record
-- came without a severity text, as every SSF log and an OTLP record with
-- only a severity number do. 0008 read '' for those, and Grafana's log
-- levels and log volume histogram (which match SeverityText's words)
-- counted them nowhere. The exporter stores '' there: ours says more.
CREATE OR REPLACE VIEW ${db}.otel_logs AS
SELECT
    CAST(timestamp AS DateTime64(9)) AS Timestamp,
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
