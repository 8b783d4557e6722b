import { describe, expect, it } from 'vitest';
import { traceIndexQuery, traceRowsQuery } from '../../query/traces/fetch-trace.js';

// The SQL of GET /v1/traces/:traceId, as sent (values are server-side parameters).
describe('trace by id SQL', () => {
  it('reads where the trace is from trace_index, with and without hints and the high 64 bits', () => {
    expect(traceIndexQuery('ssf', { hinted: false, high: false })).toMatchInlineSnapshot(`
      "SELECT toString(max(trace_id_high)) AS high_bits, toString(toUnixTimestamp64Nano(min(start))) AS start_ns, toString(toUnixTimestamp64Nano(max(end))) AS end_ns
        FROM ssf.trace_index
       WHERE tenant = {tenant:String} AND trace_id = {id:Int64}
       GROUP BY tenant, trace_id"
    `);
    expect(traceIndexQuery('ssf', { hinted: true, high: true })).toMatchInlineSnapshot(`
      "SELECT toString(max(trace_id_high)) AS high_bits, toString(toUnixTimestamp64Nano(min(start))) AS start_ns, toString(toUnixTimestamp64Nano(max(end))) AS end_ns
        FROM ssf.trace_index
       WHERE tenant = {tenant:String} AND trace_id = {id:Int64} AND trace_id_high IN (0, {high:Int64}) AND start >= fromUnixTimestamp64Milli({pruneFromMs:Int64}) AND start <= fromUnixTimestamp64Milli({pruneToMs:Int64})
       GROUP BY tenant, trace_id
      HAVING max(end) >= fromUnixTimestamp64Milli({fromMs:Int64}) AND min(start) <= fromUnixTimestamp64Milli({toMs:Int64})"
    `);
  });

  it('reads spans, logs of any service and samples in one statement, every part with the same columns', () => {
    const sql = traceRowsQuery('ssf');
    expect(sql).not.toMatch(/service IN/);
    expect(sql).toMatchInlineSnapshot(`
      "SELECT * FROM (
        SELECT 1 AS part, CAST(toUnixTimestamp64Nano(start) AS Int64) AS ts_ns, CAST(span_id AS Int64) AS span_id, CAST(parent_id AS Int64) AS parent_id, CAST(service AS String) AS service, CAST(name AS String) AS name, CAST(duration_ns AS Int64) AS duration_ns, CAST(error AS Bool) AS error, CAST(indicator AS Bool) AS indicator, CAST(tags AS Map(String, String)) AS fields, CAST('' AS String) AS severity, CAST(0 AS UInt8) AS severity_number, CAST('' AS String) AS body, CAST('' AS String) AS type, CAST(0 AS Float64) AS value, CAST(0 AS Float64) AS sample_rate, CAST('' AS String) AS unit, CAST('' AS String) AS message, CAST('' AS String) AS status
          FROM ssf.spans
         WHERE tenant = {tenant:String} AND start >= {lo:DateTime64(9, 'UTC')} AND start <= {hi:DateTime64(9, 'UTC')} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64}
        UNION ALL
        SELECT * FROM (
          SELECT 2 AS part, CAST(toUnixTimestamp64Nano(timestamp) AS Int64) AS ts_ns, CAST(span_id AS Int64) AS span_id, CAST(0 AS Int64) AS parent_id, CAST(service AS String) AS service, CAST('' AS String) AS name, CAST(0 AS Int64) AS duration_ns, CAST(false AS Bool) AS error, CAST(false AS Bool) AS indicator, CAST(attributes AS Map(String, String)) AS fields, CAST(toString(severity) AS String) AS severity, CAST(severity_number AS UInt8) AS severity_number, CAST(body AS String) AS body, CAST('' AS String) AS type, CAST(0 AS Float64) AS value, CAST(0 AS Float64) AS sample_rate, CAST('' AS String) AS unit, CAST('' AS String) AS message, CAST('' AS String) AS status
            FROM ssf.logs
           WHERE tenant = {tenant:String} AND timestamp >= {aroundLo:DateTime64(9, 'UTC')} AND timestamp <= {aroundHi:DateTime64(9, 'UTC')} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64}
           ORDER BY ts_ns, span_id, body
           LIMIT {limit:UInt32})
        UNION ALL
        SELECT * FROM (
          SELECT 3 AS part, CAST(toUnixTimestamp64Nano(timestamp) AS Int64) AS ts_ns, CAST(span_id AS Int64) AS span_id, CAST(0 AS Int64) AS parent_id, CAST(service AS String) AS service, CAST(name AS String) AS name, CAST(0 AS Int64) AS duration_ns, CAST(false AS Bool) AS error, CAST(false AS Bool) AS indicator, CAST(tags AS Map(String, String)) AS fields, CAST('' AS String) AS severity, CAST(0 AS UInt8) AS severity_number, CAST('' AS String) AS body, CAST(toString(type) AS String) AS type, CAST(value AS Float64) AS value, CAST(toFloat64(toString(sample_rate)) AS Float64) AS sample_rate, CAST(unit AS String) AS unit, CAST(message AS String) AS message, CAST(toString(status) AS String) AS status
            FROM ssf.samples
           WHERE tenant = {tenant:String} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64} AND timestamp >= {aroundLo:DateTime64(9, 'UTC')} AND timestamp <= {aroundHi:DateTime64(9, 'UTC')}
           ORDER BY ts_ns, span_id, name
           LIMIT {limit:UInt32})
      )
      ORDER BY part, ts_ns, span_id, body, name"
    `);
  });
});
