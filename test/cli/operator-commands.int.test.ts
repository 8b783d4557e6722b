import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { runCli } from './run-cli.js';
import type { CliResult } from './run-cli.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

const SERVICES = ['api', 'auth', 'cache', 'db', 'payments', 'web'];
const TRACES = 60;

let aio: AllInOne;
let env: Record<string, string>;
let demo: CliResult;
let tmp: string;

beforeAll(async () => {
  aio = await startAllInOne('cli_ops');
  env = { SSF_ADDRESS: aio.http, NO_COLOR: '' };
  tmp = await mkdtemp(join(tmpdir(), 'ssf-cli-'));
  demo = await runCli(['demo', '--traces', String(TRACES), '--rate', '100', '--seed', '11'], env, 90_000);
}, 180_000);

afterAll(async () => {
  await aio?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The reference: ClickHouse asked directly, not through the API. */
async function rows<T>(sql: string): Promise<T[]> {
  const result = await aio.ch.client.query({ query: sql.replaceAll('db.', `${aio.ch.database}.`), format: 'JSONEachRow' });
  return result.json<T>();
}

const NOW_MS = (): number => Date.now();

/** A bare log carrier (not a trace span) with these log lines. */
function logCarrier(service: string, logs: Array<{ ms: number; severity: 'info' | 'warn' | 'error'; body: string }>): SpanEvent {
  return spanEvent({
    service,
    isTrace: false,
    logs: logs.map((l) => ({
      timestamp: BigInt(l.ms) * 1_000_000n,
      severity: l.severity,
      severityNumber: { info: 9, warn: 13, error: 17 }[l.severity],
      body: l.body,
      attributes: {},
    })),
  });
}

/** A long-running `ssf` (for --follow): its output so far, and a way to wait for some of it. */
function startCli(args: string[]) {
  const main = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');
  const child = spawn(process.execPath, [...TSX_IMPORT, main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    get stdout() {
      return stdout;
    },
    async waitFor(test: (out: string) => boolean, timeoutMs = 20_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!test(stdout)) {
        if (Date.now() > until) throw new Error(`timed out waiting; output so far:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(): Promise<number | null> {
      child.kill('SIGINT');
      return exited;
    },
  };
}

describe('ssf demo', () => {
  it('sends traces across six services, with logs, metrics, indicators and errors, all delivered', async () => {
    expect(demo.code, demo.stderr).toBe(0);
    const sent = /sent (\d+) traces: (\d+) spans \((\d+) with errors\), (\d+) log lines, (\d+) metric samples/.exec(demo.stdout);
    expect(sent, demo.stdout).not.toBeNull();
    const [, traces, spans, errorSpans, logs, samples] = (sent as RegExpExecArray).map(Number);
    expect(traces).toBe(TRACES);
    expect(demo.stdout).toMatch(/ 0 dropped/);

    const [s] = await rows<{ traces: string; spans: string; errors: string; roots: string; web_roots: string; services: string[]; most: string }>(`
      SELECT uniqExact(trace_id) AS traces, count() AS spans, countIf(error) AS errors, countIf(parent_id = 0) AS roots,
             countIf(parent_id = 0 AND service = 'web' AND indicator) AS web_roots, arraySort(groupUniqArray(service)) AS services,
             (SELECT max(n) FROM (SELECT uniqExact(service) AS n FROM db.spans GROUP BY trace_id)) AS most
      FROM db.spans`);
    expect(Number(s?.traces)).toBe(TRACES);
    expect(Number(s?.roots)).toBe(TRACES);
    expect(Number(s?.web_roots)).toBe(TRACES);
    expect(Number(s?.spans)).toBe(spans);
    expect(Number(s?.errors)).toBe(errorSpans);
    expect(errorSpans).toBeGreaterThan(0);
    expect(s?.services).toEqual(SERVICES);
    expect(Number(s?.most)).toBeGreaterThanOrEqual(4);

    // Every child span's parent is in its trace.
    const [orphans] = await rows<{ n: string }>(`
      SELECT count() AS n FROM db.spans AS c LEFT ANTI JOIN db.spans AS p ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
      WHERE c.parent_id != 0`);
    expect(Number(orphans?.n)).toBe(0);

    const [l] = await rows<{ n: string; severities: string[]; timeouts: string; on_spans: string }>(`
      SELECT count() AS n, arraySort(groupUniqArray(toString(severity))) AS severities,
             countIf(hasToken(body, 'timeout')) AS timeouts, countIf(trace_id != 0) AS on_spans FROM db.logs`);
    expect(Number(l?.n)).toBe(logs);
    expect(Number(l?.on_spans)).toBe(logs);
    expect(l?.severities).toEqual(expect.arrayContaining(['info', 'warn', 'error']));
    expect(Number(l?.timeouts)).toBeGreaterThan(0);

    const m = await rows<{ name: string; type: string }>('SELECT DISTINCT name, toString(type) AS type FROM db.samples ORDER BY name');
    expect(m).toEqual(
      expect.arrayContaining([
        { name: 'http.requests', type: 'counter' },
        { name: 'http.request.duration', type: 'histogram' },
        { name: 'payments.queue_depth', type: 'gauge' },
        { name: 'users.active', type: 'set' },
      ]),
    );
    const [n] = await rows<{ n: string }>('SELECT count() AS n FROM db.samples');
    expect(Number(n?.n)).toBe(samples);
  });
});

describe('ssf sql', () => {
  const QUERY = 'SELECT service, count() AS spans FROM spans GROUP BY service ORDER BY service';
  const reference = async () => rows<{ service: string; spans: string }>('SELECT service, count() AS spans FROM db.spans GROUP BY service ORDER BY service');

  it('prints a table: a header, aligned columns with numbers to the right, the row count and time', async () => {
    const want = await reference();
    const r = await runCli(['sql', QUERY], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^service +spans$/);
    expect(lines[1]).toMatch(/^-+ {2}-+$/);
    const body = lines.slice(2, 2 + want.length);
    expect(body.map((line) => line.split(/\s+/))).toEqual(want.map((w) => [w.service, w.spans]));
    // Right-aligned numbers: every line of the table ends in the same column.
    expect(new Set([lines[0], ...body].map((line) => line?.length)).size).toBe(1);
    expect(lines[2 + want.length]).toBe('');
    expect(lines[3 + want.length]).toMatch(new RegExp(`^${want.length} rows in \\d+\\.\\d{3} s$`));
  });

  it('cuts wide cells', async () => {
    const r = await runCli(['sql', "SELECT repeat('x', 100) AS wide, 42 AS n"], env);
    expect(r.stdout.split('\n')[2]).toBe(`${'x'.repeat(59)}…  42`);
    expect(r.stdout).toMatch(/^1 row in /m);
  });

  it("gives CSV, TSV, the API's JSON and NDJSON unchanged", async () => {
    const want = await reference();
    const csv = await runCli(['sql', QUERY, '--format', 'csv'], env);
    expect(csv.stdout).toBe(`${['"service","spans"', ...want.map((w) => `"${w.service}",${w.spans}`)].join('\n')}\n`);
    const tsv = await runCli(['sql', QUERY, '--format', 'tsv'], env);
    expect(tsv.stdout).toBe(`${['service\tspans', ...want.map((w) => `${w.service}\t${w.spans}`)].join('\n')}\n`);
    const json = await runCli(['sql', QUERY, '--format', 'json'], env);
    const answer = JSON.parse(json.stdout) as { meta: unknown; data: unknown; rows: number };
    expect(answer.meta).toEqual([
      { name: 'service', type: 'LowCardinality(String)' },
      { name: 'spans', type: 'UInt64' },
    ]);
    expect(answer.data).toEqual(want);
    expect(answer.rows).toBe(want.length);
    const ndjson = await runCli(['sql', QUERY, '--format', 'ndjson'], env);
    expect(
      ndjson.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual(want);
  });

  it('binds --param values and writes --out files (format from the extension; Parquet)', async () => {
    const [want] = await rows<{ n: string }>("SELECT count() AS n FROM db.spans WHERE service = 'payments'");
    const r = await runCli(['sql', 'SELECT count() AS n FROM spans WHERE service = {s:String}', '--param', 's=payments', '--format', 'tsv'], env);
    expect(r.stdout).toBe(`n\n${want?.n}\n`);

    const csvFile = join(tmp, 'services.csv');
    const toFile = await runCli(['sql', QUERY, '--out', csvFile], env);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(toFile.stdout).toBe('');
    expect((await readFile(csvFile, 'utf8')).split('\n')[0]).toBe('"service","spans"');

    const parquet = join(tmp, 'spans.parquet');
    const p = await runCli(['sql', 'SELECT trace_id, service, name, duration_ns FROM spans', '--out', parquet], env);
    expect(p.code, p.stderr).toBe(0);
    const bytes = await readFile(parquet);
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.subarray(-4).toString()).toBe('PAR1');
    expect(p.stderr).toMatch(new RegExp(`^${bytes.length} bytes of parquet in .* written to `));
  });

  it("exits 1 with the API's coded reason when the SQL is refused", async () => {
    const bad = await runCli(['sql', 'SELEC 1'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ssf sql: .*\[QUERY_ERR_SYNTAX\]$/m);
    const write = await runCli(['sql', 'DROP TABLE spans'], env);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/\[QUERY_ERR_NOT_SELECT\]/);
  });
});

describe('ssf trace', () => {
  it('prints the timeline of the trace the demo points at', async () => {
    const id = /ssf trace ([0-9a-f]{16})/.exec(demo.stdout)?.[1] as string;
    expect(id).toBeDefined();
    const spans = await rows<{ service: string; name: string; error: boolean }>(
      `SELECT service, name, error FROM db.spans WHERE trace_id = ${BigInt(`0x${id}`)} ORDER BY start`,
    );
    expect(spans.length).toBeGreaterThan(2);
    const r = await runCli(['trace', id], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^trace ${BigInt(`0x${id}`)} \\(${id}\\)$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^spans ${spans.length}  errors ${spans.filter((s) => s.error).length} `, 'm'));
    for (const s of spans) expect(r.stdout).toMatch(new RegExp(`  ${s.service} +${s.name.replace(/[/*]/g, '\\$&')}  \\d+\\.\\d{3}ms`));

    const json = await runCli(['trace', id, '--json'], env);
    const tree = JSON.parse(json.stdout) as { trace_id_hex: string; span_count: number; services: string[] };
    expect(tree.trace_id_hex).toBe(id);
    expect(tree.span_count).toBe(spans.length);
    expect(tree.services).toEqual([...new Set(spans.map((s) => s.service))].sort());
  });

  it('exits 1 when there is no such trace', async () => {
    const r = await runCli(['trace', '0000000000000001'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[QUERY_ERR_NOT_FOUND\]/);
  });
});

describe('ssf logs', () => {
  it('finds lines, newest ones, oldest first, with filters, and bold matches only when asked', async () => {
    const t = NOW_MS() - 5_000;
    const lines = [
      { ms: t, severity: 'info' as const, body: 'quokka spotted near the gate' },
      { ms: t + 1_000, severity: 'warn' as const, body: 'second quokka is hungry' },
      { ms: t + 2_000, severity: 'error' as const, body: 'third quokka escaped' },
      { ms: t + 2_500, severity: 'error' as const, body: 'a wombat escaped' },
    ];
    expect((await aio.post([logCarrier('zoo', lines)])).status).toBe(200);
    const shown = (r: CliResult): string[] => r.stdout.trimEnd().split('\n');
    const expected = (l: (typeof lines)[number]): string => `${new Date(l.ms).toISOString()}  zoo       ${l.severity.toUpperCase().padEnd(5)}  ${l.body}`;

    const all = await runCli(['logs', 'quokka'], env);
    expect(all.code, all.stderr).toBe(0);
    expect(shown(all)).toEqual(lines.slice(0, 3).map(expected));

    const newest = await runCli(['logs', 'quokka', '--limit', '2', '--service', 'zoo'], env);
    expect(shown(newest)).toEqual(lines.slice(1, 3).map(expected));

    const severe = await runCli(['logs', 'escaped', '--severity', 'error', '--since', '1m'], env);
    expect(shown(severe)).toEqual([lines[2], lines[3]].map((l) => expected(l as (typeof lines)[number])));

    const bold = await runCli(['logs', 'quokka', '--color', 'always'], env);
    expect(bold.stdout).toContain('\x1b[1mquokka\x1b[22m spotted near the gate');
    expect(all.stdout).not.toContain('\x1b[');

    const none = await runCli(['logs', 'platypus'], env);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('no log lines matched in the last 15m\n');

    const bad = await runCli(['logs', '(unclosed'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[QUERY_ERR_BAD_REQUEST\]/);
  });

  it('finds a line of a demo trace by its trace id', async () => {
    const [line] = await rows<{ body: string; hex: string }>(
      "SELECT body, lower(leftPad(hex(trace_id), 16, '0')) AS hex FROM db.logs WHERE service = 'payments' ORDER BY timestamp LIMIT 1",
    );
    const r = await runCli(['logs', '--trace', line?.hex as string, '--service', 'payments', '--since', '1h'], env);
    expect(r.stdout).toContain(`${line?.body}  trace=${line?.hex}`);
  });

  it('--follow shows lines posted after it started, each once, until Ctrl-C', async () => {
    const t = NOW_MS();
    await aio.post([logCarrier('follow', [{ ms: t - 1_000, severity: 'info', body: 'capybara before' }])]);
    const follow = startCli(['logs', 'capybara', '--follow', '--service', 'follow']);
    await follow.waitFor((out) => out.includes('capybara before'));
    await aio.post([logCarrier('follow', [{ ms: Date.now(), severity: 'warn', body: 'capybara after' }])]);
    await follow.waitFor((out) => out.includes('capybara after'));
    // Arrived late: older than the newest line printed, by less than the follow look-back.
    await aio.post([logCarrier('follow', [{ ms: Date.now() - 1_500, severity: 'info', body: 'capybara late' }])]);
    await follow.waitFor((out) => out.includes('capybara late'));
    await new Promise((r) => setTimeout(r, 3_500)); // three more polls over the same lines
    expect(await follow.stop()).toBe(0);
    const printed = follow.stdout.trimEnd().split('\n');
    expect(printed.map((l) => / (capybara \w+)$/.exec(l)?.[1])).toEqual(['capybara before', 'capybara after', 'capybara late']);
  });
});

describe('ssf top', () => {
  it("--once lists the demo's endpoints with their span counts", async () => {
    const r = await runCli(['top', '--once'], env);
    expect(r.code, r.stderr).toBe(0);
    const want = await rows<{ service: string; name: string; n: string; errors: string }>(
      'SELECT service, name, count() AS n, countIf(error) AS errors FROM db.spans GROUP BY service, name',
    );
    const lines = r.stdout.trimEnd().split('\n');
    const header = lines.findIndex((l) => l.startsWith('SERVICE'));
    expect(lines[header]?.split(/\s{2,}/)).toEqual(['SERVICE', 'ENDPOINT', 'RATE/s', 'SPANS', 'ERRORS', 'ERR%', 'P50 ms', 'P99 ms']);
    const table = lines.slice(header + 2).map((l) => l.split(/\s{2,}/));
    expect(table.map((c) => `${c[0]} ${c[1]} ${c[3]} ${c[4]}`).sort()).toEqual(want.map((w) => `${w.service} ${w.name} ${w.n} ${w.errors}`).sort());
    expect(new Set(table.map((c) => c[0]))).toEqual(new Set(SERVICES));
    // Ordered by rate, busiest first.
    const counts = table.map((c) => Number(c[3]));
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });
});
