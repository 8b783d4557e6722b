import { describe, expect, it } from 'vitest';
import { traceRowsQuery } from '../../query/traces/fetch-trace.js';

// The SQL of GET /v1/traces/:traceId, as sent (values are server-side parameters).
describe('trace by id SQL', () => {
  it('reads where the trace is from trace_index, as a scalar of the same statement, with and without hints and the high 64 bits', () => {
    const plain = traceRowsQuery('ssf', { hinted: false, high: false });
    const hinted = traceRowsQuery('ssf', { hinted: true, high: true });
    const scalar = (sql: string): string => sql.slice(0, sql.indexOf(') AS r') + 6);
    expect(scalar(plain)).toMatchInlineSnapshot(`
      "WITH (SELECT (max(trace_id_high), min(start), max(end), count() > 0)
            FROM ssf.trace_index
           WHERE tenant = {tenant:String} AND trace_id = {id:Int64}) AS r"
    `);
    expect(scalar(hinted)).toMatchInlineSnapshot(`
      "WITH (SELECT (max(trace_id_high), min(start), max(end), count() > 0 AND max(end) >= fromUnixTimestamp64Milli({fromMs:Int64}) AND min(start) <= fromUnixTimestamp64Milli({toMs:Int64}))
            FROM ssf.trace_index
           WHERE tenant = {tenant:String} AND trace_id = {id:Int64} AND trace_id_high IN (0, {high:Int64}) AND start >= fromUnixTimestamp64Milli({pruneFromMs:Int64}) AND start <= fromUnixTimestamp64Milli({pruneToMs:Int64})) AS r"
    `);
    // Each part reads the same scalar (ClickHouse's scalar cache computes it once).
    expect(plain.split(scalar(plain)).length - 1).toBe(3);
    expect(hinted.split(scalar(hinted)).length - 1).toBe(3);
  });

  it('leaves the samples part out when asked (a tenant with no sample sent with a trace id)', () => {
    const all = traceRowsQuery('ssf', { hinted: false, high: false });
    const without = traceRowsQuery('ssf', { hinted: false, high: false, samples: false });
    expect(without).not.toContain('ssf.samples');
    expect(without.split('UNION ALL')).toHaveLength(2);
    expect(all.startsWith(without)).toBe(true);
    expect(all.slice(without.length)).toContain('FROM ssf.samples');
  });

  it('reads spans, logs of any service and samples in one statement, every part with the same columns', () => {
    const sql = traceRowsQuery('ssf', { hinted: false, high: false });
    expect(sql).not.toMatch(/service IN/);
    expect(sql).toMatchInlineSnapshot(`
      "WITH (SELECT (max(trace_id_high), min(start), max(end), count() > 0)
            FROM ssf.trace_index
           WHERE tenant = {tenant:String} AND trace_id = {id:Int64}) AS r
      SELECT 1 AS part, toUnixTimestamp64Nano(start) AS ts_ns, trace_id_high AS trace_id_high, span_id AS span_id, parent_id AS parent_id, service AS service, name AS name, duration_ns AS duration_ns, error AS error, indicator AS indicator, tags AS fields, CAST('' AS String) AS severity, CAST(0 AS UInt8) AS severity_number, CAST('' AS String) AS body, CAST('' AS String) AS type, CAST(0 AS Float64) AS value, CAST(0 AS Float64) AS sample_rate, CAST('' AS String) AS unit, CAST('' AS String) AS message, CAST('' AS String) AS status
        FROM ssf.spans
       PREWHERE trace_id = {id:Int64}
       WHERE tenant = {tenant:String} AND start >= toStartOfTenMinutes(r.2) AND start <= r.3 AND r.4 > 0 AND trace_id_high = r.1
       LIMIT {limit:UInt32}
      UNION ALL
      (
        WITH (SELECT (max(trace_id_high), min(start), max(end), count() > 0)
            FROM ssf.trace_index
           WHERE tenant = {tenant:String} AND trace_id = {id:Int64}) AS r
        SELECT 2 AS part, toUnixTimestamp64Nano(timestamp) AS ts_ns, trace_id_high AS trace_id_high, span_id AS span_id, CAST(0 AS Int64) AS parent_id, service AS service, CAST('' AS String) AS name, CAST(0 AS Int64) AS duration_ns, CAST(false AS Bool) AS error, CAST(false AS Bool) AS indicator, attributes AS fields, toString(severity) AS severity, severity_number AS severity_number, body AS body, CAST('' AS String) AS type, CAST(0 AS Float64) AS value, CAST(0 AS Float64) AS sample_rate, CAST('' AS String) AS unit, CAST('' AS String) AS message, CAST('' AS String) AS status
          FROM ssf.logs
         PREWHERE trace_id = {id:Int64}
         WHERE tenant = {tenant:String} AND timestamp >= r.2 - INTERVAL {slackS:UInt32} SECOND AND timestamp <= r.3 + INTERVAL {slackS:UInt32} SECOND AND r.4 > 0 AND trace_id_high = r.1
         ORDER BY ts_ns, span_id, body
         LIMIT {limit:UInt32})
      UNION ALL
      (
        WITH (SELECT (max(trace_id_high), min(start), max(end), count() > 0)
            FROM ssf.trace_index
           WHERE tenant = {tenant:String} AND trace_id = {id:Int64}) AS r
        SELECT 3 AS part, toUnixTimestamp64Nano(timestamp) AS ts_ns, trace_id_high AS trace_id_high, span_id AS span_id, CAST(0 AS Int64) AS parent_id, service AS service, name AS name, CAST(0 AS Int64) AS duration_ns, CAST(false AS Bool) AS error, CAST(false AS Bool) AS indicator, tags AS fields, CAST('' AS String) AS severity, CAST(0 AS UInt8) AS severity_number, CAST('' AS String) AS body, toString(type) AS type, value AS value, toFloat64(toString(sample_rate)) AS sample_rate, unit AS unit, message AS message, toString(status) AS status
          FROM ssf.samples
         PREWHERE trace_id = {id:Int64}
         WHERE tenant = {tenant:String} AND r.4 > 0 AND trace_id_high = r.1 AND timestamp >= r.2 - INTERVAL {slackS:UInt32} SECOND AND timestamp <= r.3 + INTERVAL {slackS:UInt32} SECOND
         ORDER BY ts_ns, span_id, name
         LIMIT {limit:UInt32})"
    `);
  });
});
