-- Codecs for the trace tables, measured column by column on the OTLP bench
-- (100,000 spans, bytes per span before -> after): tags 5.35 -> 1.3 (a span's
-- attributes repeat the resource, scope and route of its neighbours, but the
-- rows are ordered by trace, so the repeats are farther apart than ZSTD(1)'s
-- window finds cheaply), parent_id 1.5 -> 0.84, trace_id 1.1 -> 0.76, start
-- 1.08 -> 0.58 (Delta: the spans of a trace start close together; DoubleDelta
-- paid for the jump between traces), service 0.25 -> 0.1. span_id (8 random
-- bytes) and duration_ns (random) are at their entropy. A new codec applies
-- to parts written from now on, and to older parts as they merge.
ALTER TABLE ${db}.spans
    MODIFY COLUMN trace_id CODEC(ZSTD(3)),
    MODIFY COLUMN parent_id CODEC(ZSTD(3)),
    MODIFY COLUMN service CODEC(ZSTD(3)),
    MODIFY COLUMN name CODEC(ZSTD(3)),
    MODIFY COLUMN start CODEC(Delta, ZSTD(3)),
    MODIFY COLUMN root_start CODEC(Delta, ZSTD(3)),
    MODIFY COLUMN error CODEC(ZSTD(3)),
    MODIFY COLUMN indicator CODEC(ZSTD(3)),
    MODIFY COLUMN trace_id_high CODEC(ZSTD(3)),
    MODIFY COLUMN tags CODEC(ZSTD(9));

-- The index row of a trace: random ids and times in trace-id order.
ALTER TABLE ${db}.trace_index
    MODIFY COLUMN trace_id CODEC(ZSTD(3)),
    MODIFY COLUMN start CODEC(ZSTD(3)),
    MODIFY COLUMN end CODEC(ZSTD(3)),
    MODIFY COLUMN spans CODEC(ZSTD(3)),
    MODIFY COLUMN errors CODEC(ZSTD(3)),
    MODIFY COLUMN services CODEC(ZSTD(3)),
    MODIFY COLUMN trace_id_high CODEC(ZSTD(3));
