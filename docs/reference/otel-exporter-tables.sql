-- Tables created by the OpenTelemetry Collector's ClickHouse exporter
-- (github.com/open-telemetry/opentelemetry-collector-contrib/exporter/clickhouseexporter v0.165.1, collector core v0.165.0,
-- default settings: Map attributes, json: false, MergeTree, no TTL, create_schema: true),
-- as SHOW CREATE TABLE prints them on ClickHouse 26.7.2.1 (chDB). The exporter
-- adapts to the server: from ClickHouse 26.2 the logs table gets text() indexes instead of
-- bloom filters. Database `otel` stands for the exporter's `database` setting.
-- Its Nested columns (Events, Links, Exemplars, ValueAtQuantiles) are stored flattened, as
-- Array columns named `Events.Name` etc. (flatten_nested = 1, the default). Not here: the
-- `json: true` variants of otel_traces / otel_logs, and otel_profiles (profiles need the
-- collector feature gate service.profilesSupport).
-- Written by test/otel/otel-collector.int.test.ts (OTEL_EXPORTER_DDL_WRITE=1 to rewrite).

CREATE TABLE otel.otel_logs
(
    `Timestamp` DateTime64(9) COMMENT 'Event timestamp with nanosecond precision' CODEC(Delta(8), ZSTD(3)),
    `TraceId` String COMMENT 'W3C trace identifier' CODEC(ZSTD(3)),
    `SpanId` String COMMENT 'W3C span identifier' CODEC(ZSTD(3)),
    `TraceFlags` UInt8 COMMENT 'W3C trace flags',
    `SeverityText` LowCardinality(String) COMMENT 'Log severity as text' CODEC(ZSTD(3)),
    `SeverityNumber` UInt8 COMMENT 'Log severity as number (1-24)',
    `ServiceName` LowCardinality(String) COMMENT 'Service that emitted the log' CODEC(ZSTD(3)),
    `Body` String COMMENT 'Log message body' CODEC(ZSTD(3)),
    `ResourceSchemaUrl` LowCardinality(String) COMMENT 'Schema URL for the resource' CODEC(ZSTD(3)),
    `ResourceAttributes` Map(LowCardinality(String), String) COMMENT 'Resource attributes as key-value pairs' CODEC(ZSTD(3)),
    `ScopeSchemaUrl` LowCardinality(String) COMMENT 'Schema URL for the instrumentation scope' CODEC(ZSTD(3)),
    `ScopeName` String COMMENT 'Instrumentation scope name' CODEC(ZSTD(3)),
    `ScopeVersion` LowCardinality(String) COMMENT 'Instrumentation scope version' CODEC(ZSTD(3)),
    `ScopeAttributes` Map(LowCardinality(String), String) COMMENT 'Instrumentation scope attributes' CODEC(ZSTD(3)),
    `LogAttributes` Map(LowCardinality(String), String) COMMENT 'Log record attributes' CODEC(ZSTD(3)),
    `EventName` String COMMENT 'Event name for log records representing events' CODEC(ZSTD(3)),
    `__otel_materialized_k8s.cluster.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.cluster.name'] CODEC(ZSTD(3)),
    `__otel_materialized_k8s.container.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.container.name'] CODEC(ZSTD(3)),
    `__otel_materialized_k8s.deployment.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.deployment.name'] CODEC(ZSTD(3)),
    `__otel_materialized_k8s.namespace.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.namespace.name'] CODEC(ZSTD(3)),
    `__otel_materialized_k8s.node.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.node.name'] CODEC(ZSTD(3)),
    `__otel_materialized_k8s.pod.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.name'] CODEC(ZSTD(3)),
    `__otel_materialized_k8s.pod.uid` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.uid'] CODEC(ZSTD(3)),
    `__otel_materialized_deployment.environment.name` LowCardinality(String) MATERIALIZED ResourceAttributes['deployment.environment.name'] CODEC(ZSTD(3)),
    INDEX idx_trace_id TraceId TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE text(tokenizer = 'array') GRANULARITY 100000000,
    INDEX idx_lower_body lower(Body) TYPE text(tokenizer = 'splitByNonAlpha') GRANULARITY 100000000
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_metrics_exponential_histogram
(
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ResourceSchemaUrl` String CODEC(ZSTD(3)),
    `ScopeName` String CODEC(ZSTD(3)),
    `ScopeVersion` String CODEC(ZSTD(3)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ScopeDroppedAttrCount` UInt32 CODEC(ZSTD(3)),
    `ScopeSchemaUrl` String CODEC(ZSTD(3)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricDescription` String CODEC(ZSTD(3)),
    `MetricUnit` String CODEC(ZSTD(3)),
    `Attributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `StartTimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `TimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `Count` UInt64 CODEC(Delta(8), ZSTD(3)),
    `Sum` Float64 CODEC(ZSTD(3)),
    `Scale` Int32 CODEC(ZSTD(3)),
    `ZeroCount` UInt64 CODEC(ZSTD(3)),
    `PositiveOffset` Int32 CODEC(ZSTD(3)),
    `PositiveBucketCounts` Array(UInt64) CODEC(ZSTD(3)),
    `NegativeOffset` Int32 CODEC(ZSTD(3)),
    `NegativeBucketCounts` Array(UInt64) CODEC(ZSTD(3)),
    `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(3)),
    `Exemplars.TimeUnix` Array(DateTime) CODEC(ZSTD(3)),
    `Exemplars.Value` Array(Float64) CODEC(ZSTD(3)),
    `Exemplars.SpanId` Array(String) CODEC(ZSTD(3)),
    `Exemplars.TraceId` Array(String) CODEC(ZSTD(3)),
    `Flags` UInt32 CODEC(ZSTD(3)),
    `Min` Float64 CODEC(ZSTD(3)),
    `Max` Float64 CODEC(ZSTD(3)),
    `AggregationTemporality` Int32 CODEC(ZSTD(3)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_metrics_gauge
(
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ResourceSchemaUrl` String CODEC(ZSTD(3)),
    `ScopeName` String CODEC(ZSTD(3)),
    `ScopeVersion` String CODEC(ZSTD(3)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ScopeDroppedAttrCount` UInt32 CODEC(ZSTD(3)),
    `ScopeSchemaUrl` String CODEC(ZSTD(3)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricDescription` String CODEC(ZSTD(3)),
    `MetricUnit` String CODEC(ZSTD(3)),
    `Attributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `StartTimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `TimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `Value` Float64 CODEC(ZSTD(3)),
    `Flags` UInt32 CODEC(ZSTD(3)),
    `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(3)),
    `Exemplars.TimeUnix` Array(DateTime) CODEC(ZSTD(3)),
    `Exemplars.Value` Array(Float64) CODEC(ZSTD(3)),
    `Exemplars.SpanId` Array(String) CODEC(ZSTD(3)),
    `Exemplars.TraceId` Array(String) CODEC(ZSTD(3)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_metrics_histogram
(
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ResourceSchemaUrl` String CODEC(ZSTD(3)),
    `ScopeName` String CODEC(ZSTD(3)),
    `ScopeVersion` String CODEC(ZSTD(3)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ScopeDroppedAttrCount` UInt32 CODEC(ZSTD(3)),
    `ScopeSchemaUrl` String CODEC(ZSTD(3)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricDescription` String CODEC(ZSTD(3)),
    `MetricUnit` String CODEC(ZSTD(3)),
    `Attributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `StartTimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `TimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `Count` UInt64 CODEC(Delta(8), ZSTD(3)),
    `Sum` Float64 CODEC(ZSTD(3)),
    `BucketCounts` Array(UInt64) CODEC(ZSTD(3)),
    `ExplicitBounds` Array(Float64) CODEC(ZSTD(3)),
    `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(3)),
    `Exemplars.TimeUnix` Array(DateTime) CODEC(ZSTD(3)),
    `Exemplars.Value` Array(Float64) CODEC(ZSTD(3)),
    `Exemplars.SpanId` Array(String) CODEC(ZSTD(3)),
    `Exemplars.TraceId` Array(String) CODEC(ZSTD(3)),
    `Flags` UInt32 CODEC(ZSTD(3)),
    `Min` Float64 CODEC(ZSTD(3)),
    `Max` Float64 CODEC(ZSTD(3)),
    `AggregationTemporality` Int32 CODEC(ZSTD(3)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_metrics_sum
(
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ResourceSchemaUrl` String CODEC(ZSTD(3)),
    `ScopeName` String CODEC(ZSTD(3)),
    `ScopeVersion` String CODEC(ZSTD(3)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ScopeDroppedAttrCount` UInt32 CODEC(ZSTD(3)),
    `ScopeSchemaUrl` String CODEC(ZSTD(3)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricDescription` String CODEC(ZSTD(3)),
    `MetricUnit` String CODEC(ZSTD(3)),
    `Attributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `StartTimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `TimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `Value` Float64 CODEC(ZSTD(3)),
    `Flags` UInt32 CODEC(ZSTD(3)),
    `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(3)),
    `Exemplars.TimeUnix` Array(DateTime) CODEC(ZSTD(3)),
    `Exemplars.Value` Array(Float64) CODEC(ZSTD(3)),
    `Exemplars.SpanId` Array(String) CODEC(ZSTD(3)),
    `Exemplars.TraceId` Array(String) CODEC(ZSTD(3)),
    `AggregationTemporality` Int32 CODEC(ZSTD(3)),
    `IsMonotonic` Bool CODEC(Delta(1), ZSTD(3)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_metrics_summary
(
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ResourceSchemaUrl` String CODEC(ZSTD(3)),
    `ScopeName` String CODEC(ZSTD(3)),
    `ScopeVersion` String CODEC(ZSTD(3)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ScopeDroppedAttrCount` UInt32 CODEC(ZSTD(3)),
    `ScopeSchemaUrl` String CODEC(ZSTD(3)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricName` LowCardinality(String) CODEC(ZSTD(3)),
    `MetricDescription` String CODEC(ZSTD(3)),
    `MetricUnit` String CODEC(ZSTD(3)),
    `Attributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `StartTimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `TimeUnix` DateTime CODEC(Delta(4), ZSTD(3)),
    `Count` UInt64 CODEC(Delta(8), ZSTD(3)),
    `Sum` Float64 CODEC(ZSTD(3)),
    `ValueAtQuantiles.Quantile` Array(Float64) CODEC(ZSTD(3)),
    `ValueAtQuantiles.Value` Array(Float64) CODEC(ZSTD(3)),
    `Flags` UInt32 CODEC(ZSTD(3)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_traces
(
    `Timestamp` DateTime64(9) CODEC(Delta(8), ZSTD(3)),
    `TraceId` String CODEC(ZSTD(3)),
    `SpanId` String CODEC(ZSTD(3)),
    `ParentSpanId` String CODEC(ZSTD(3)),
    `TraceState` String CODEC(ZSTD(3)),
    `SpanName` LowCardinality(String) CODEC(ZSTD(3)),
    `SpanKind` LowCardinality(String) CODEC(ZSTD(3)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(3)),
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `ScopeName` String CODEC(ZSTD(3)),
    `ScopeVersion` String CODEC(ZSTD(3)),
    `SpanAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `Duration` UInt64 CODEC(ZSTD(3)),
    `StatusCode` LowCardinality(String) CODEC(ZSTD(3)),
    `StatusMessage` String CODEC(ZSTD(3)),
    `Events.Timestamp` Array(DateTime64(9)) CODEC(ZSTD(3)),
    `Events.Name` Array(LowCardinality(String)) CODEC(ZSTD(3)),
    `Events.Attributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(3)),
    `Links.TraceId` Array(String) CODEC(ZSTD(3)),
    `Links.SpanId` Array(String) CODEC(ZSTD(3)),
    `Links.TraceState` Array(String) CODEC(ZSTD(3)),
    `Links.Attributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(3)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE otel.otel_traces_trace_id_ts
(
    `TraceId` String CODEC(ZSTD(3)),
    `Start` DateTime CODEC(Delta(4), ZSTD(3)),
    `End` DateTime CODEC(Delta(4), ZSTD(3)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW otel.otel_traces_trace_id_ts_mv TO otel.otel_traces_trace_id_ts
(
    `TraceId` String,
    `Start` DateTime64(9),
    `End` DateTime64(9)
)
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM otel.otel_traces
WHERE TraceId != ''
GROUP BY TraceId;
