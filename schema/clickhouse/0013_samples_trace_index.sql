-- GET /v1/traces/{id} reads a trace's metric samples by trace id and the
-- trace's time range. `samples` is ordered by (tenant, name, tags hash,
-- timestamp), so the time range narrows each series but every series is
-- read: with 10M statsd samples a day in 10,000 series (trace id 0), one
-- trace's statement read 1.15M rows instead of 35k (p50 31 ms against 23).
-- A bloom filter on trace_id, as `logs` has, skips every granule without the
-- trace. Most samples have no trace (statsd): a granule's filter then holds
-- a handful of values, a few hundred bytes per 10M rows.
ALTER TABLE ${db}.samples ADD INDEX IF NOT EXISTS idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1;

-- Build it for the parts already written (a background mutation; until it is
-- done, those parts are read as before).
ALTER TABLE ${db}.samples MATERIALIZE INDEX idx_trace_id;
