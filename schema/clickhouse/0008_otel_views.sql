-- OpenTelemetry-shaped views (docs/otlp.md, "OTel views"): the tables of the
-- Collector's ClickHouse exporter (docs/reference/otel-exporter-tables.sql),
-- same names, columns and types, as plain views over our tables, so tools
-- that read OTel data in ClickHouse (Grafana's ClickHouse data source,
-- ClickStack) read ours. No second copy: every read is a read of spans,
-- logs or samples, and the query API's tenant filter on those tables applies
-- inside the views. Resource and scope come back out of the prefixed keys
-- the OTLP mapping wrote (otel.resource.*, otel.scope.*).
CREATE VIEW IF NOT EXISTS ${db}.otel_traces AS
SELECT
    CAST(start AS DateTime64(9)) AS Timestamp,
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

CREATE VIEW IF NOT EXISTS ${db}.otel_logs AS
SELECT
    CAST(timestamp AS DateTime64(9)) AS Timestamp,
    if(trace_id = 0, '', lower(concat(leftPad(hex(toUInt64(trace_id_high)), 16, '0'), leftPad(hex(toUInt64(trace_id)), 16, '0')))) AS TraceId,
    if(span_id = 0, '', lower(leftPad(hex(toUInt64(span_id)), 16, '0'))) AS SpanId,
    toUInt8OrZero(attributes['otel.flags']) AS TraceFlags,
    CAST(attributes['otel.severity_text'] AS LowCardinality(String)) AS SeverityText,
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

CREATE VIEW IF NOT EXISTS ${db}.otel_metrics_gauge AS
SELECT
    CAST(mapApply((k, v) -> (substring(k, 15), v), mapFilter((k, v) -> startsWith(k, 'otel.resource.'), tags)) AS Map(LowCardinality(String), String)) AS ResourceAttributes,
    '' AS ResourceSchemaUrl,
    tags['otel.scope.name'] AS ScopeName,
    tags['otel.scope.version'] AS ScopeVersion,
    CAST(mapApply((k, v) -> (substring(k, 23), v), mapFilter((k, v) -> startsWith(k, 'otel.scope.attributes.'), tags)) AS Map(LowCardinality(String), String)) AS ScopeAttributes,
    toUInt32(0) AS ScopeDroppedAttrCount,
    '' AS ScopeSchemaUrl,
    service AS ServiceName,
    name AS MetricName,
    '' AS MetricDescription,
    toString(unit) AS MetricUnit,
    CAST(mapFilter((k, v) -> NOT (startsWith(k, 'otel.')), tags) AS Map(LowCardinality(String), String)) AS Attributes,
    toDateTime(0) AS StartTimeUnix,
    toDateTime(timestamp) AS TimeUnix,
    value AS Value,
    toUInt32(0) AS Flags,
    CAST([] AS Array(Map(LowCardinality(String), String))) AS `Exemplars.FilteredAttributes`,
    CAST([] AS Array(DateTime)) AS `Exemplars.TimeUnix`,
    CAST([] AS Array(Float64)) AS `Exemplars.Value`,
    CAST([] AS Array(String)) AS `Exemplars.SpanId`,
    CAST([] AS Array(String)) AS `Exemplars.TraceId`
FROM ${db}.samples
WHERE type = 'gauge' AND tags['otel.temporality'] = '';

CREATE VIEW IF NOT EXISTS ${db}.otel_metrics_sum AS
SELECT
    CAST(mapApply((k, v) -> (substring(k, 15), v), mapFilter((k, v) -> startsWith(k, 'otel.resource.'), tags)) AS Map(LowCardinality(String), String)) AS ResourceAttributes,
    '' AS ResourceSchemaUrl,
    tags['otel.scope.name'] AS ScopeName,
    tags['otel.scope.version'] AS ScopeVersion,
    CAST(mapApply((k, v) -> (substring(k, 23), v), mapFilter((k, v) -> startsWith(k, 'otel.scope.attributes.'), tags)) AS Map(LowCardinality(String), String)) AS ScopeAttributes,
    toUInt32(0) AS ScopeDroppedAttrCount,
    '' AS ScopeSchemaUrl,
    service AS ServiceName,
    name AS MetricName,
    '' AS MetricDescription,
    toString(unit) AS MetricUnit,
    CAST(mapFilter((k, v) -> NOT (startsWith(k, 'otel.')), tags) AS Map(LowCardinality(String), String)) AS Attributes,
    toDateTime(intDiv(toUInt64OrZero(message), 1000000000)) AS StartTimeUnix,
    toDateTime(timestamp) AS TimeUnix,
    -- A counter's true value is value / sample_rate (Veneur's rule, the rate as sent).
    if(type = 'counter', value / toFloat64(toString(sample_rate)), value) AS Value,
    toUInt32(0) AS Flags,
    CAST([] AS Array(Map(LowCardinality(String), String))) AS `Exemplars.FilteredAttributes`,
    CAST([] AS Array(DateTime)) AS `Exemplars.TimeUnix`,
    CAST([] AS Array(Float64)) AS `Exemplars.Value`,
    CAST([] AS Array(String)) AS `Exemplars.SpanId`,
    CAST([] AS Array(String)) AS `Exemplars.TraceId`,
    toInt32(if(type = 'counter', 1, 2)) AS AggregationTemporality,
    CAST(if(type = 'counter', true, tags['otel.monotonic'] = 'true') AS Bool) AS IsMonotonic
FROM ${db}.samples
WHERE type = 'counter' OR (type = 'gauge' AND tags['otel.temporality'] = 'cumulative');

-- One row per series and time, as the exporter has one per data point: the
-- observations as buckets at their representative values (the OTLP mapping
-- keeps no bucket bounds), Count and Sum weighted by 1 / sample_rate.
CREATE VIEW IF NOT EXISTS ${db}.otel_metrics_histogram AS
SELECT
    CAST(mapApply((k, v) -> (substring(k, 15), v), mapFilter((k, v) -> startsWith(k, 'otel.resource.'), any(tags))) AS Map(LowCardinality(String), String)) AS ResourceAttributes,
    '' AS ResourceSchemaUrl,
    any(tags)['otel.scope.name'] AS ScopeName,
    any(tags)['otel.scope.version'] AS ScopeVersion,
    CAST(mapApply((k, v) -> (substring(k, 23), v), mapFilter((k, v) -> startsWith(k, 'otel.scope.attributes.'), any(tags))) AS Map(LowCardinality(String), String)) AS ScopeAttributes,
    toUInt32(0) AS ScopeDroppedAttrCount,
    '' AS ScopeSchemaUrl,
    any(service) AS ServiceName,
    name AS MetricName,
    '' AS MetricDescription,
    toString(any(unit)) AS MetricUnit,
    CAST(mapFilter((k, v) -> NOT (startsWith(k, 'otel.')), any(tags)) AS Map(LowCardinality(String), String)) AS Attributes,
    toDateTime(0) AS StartTimeUnix,
    toDateTime(timestamp) AS TimeUnix,
    toUInt64(round(sum(1 / toFloat64(toString(sample_rate))))) AS Count,
    sum(value / toFloat64(toString(sample_rate))) AS Sum,
    sumMap([value], [toUInt64(round(1 / toFloat64(toString(sample_rate))))]) AS buckets_,
    arrayConcat(buckets_.2, [toUInt64(0)]) AS BucketCounts,
    buckets_.1 AS ExplicitBounds,
    CAST([] AS Array(Map(LowCardinality(String), String))) AS `Exemplars.FilteredAttributes`,
    CAST([] AS Array(DateTime)) AS `Exemplars.TimeUnix`,
    CAST([] AS Array(Float64)) AS `Exemplars.Value`,
    CAST([] AS Array(String)) AS `Exemplars.SpanId`,
    CAST([] AS Array(String)) AS `Exemplars.TraceId`,
    toUInt32(0) AS Flags,
    min(value) AS Min,
    max(value) AS Max,
    toInt32(1) AS AggregationTemporality
FROM ${db}.samples
WHERE type = 'histogram'
GROUP BY tenant, name, cityHash64(mapSort(tags)), timestamp;
