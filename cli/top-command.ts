import { ApiClient, API_HELP, API_OPTIONS, apiTarget } from './api-client.js';
import type { Command } from './command.js';
import { parse, parseNumber, UsageError } from './command.js';
import { parseDurationArg } from './duration-arg.js';
import { formatTable } from './table-format.js';

const HELP = `Usage: ssf top [--interval 2s] [--window 5m] [--once]

The busiest endpoints (service and span name) now: requests per second,
errors, and latency percentiles, from the span-duration rollup (metric
ssf.span.duration in metrics_1m, through POST /v1/sql). On a terminal the
table is redrawn in place every interval until Ctrl-C.

Options:
  --interval DURATION  time between redraws (default 2s)
  --window DURATION    how far back to count: whole minutes up to now (default 5m)
  --limit N            at most N endpoints (default 30)
  --once               print the table once and exit
${API_HELP}
  -h, --help           this help

Exit codes: 0 done, 1 refused or unreachable, 2 bad arguments.`;

const OPTIONS = {
  ...API_OPTIONS,
  interval: { type: 'string' },
  window: { type: 'string' },
  limit: { type: 'string' },
  once: { type: 'boolean' },
} as const;

/**
 * Per endpoint over the window: rate = spans / seconds since the first
 * minute of the window began (the current minute is partial, so is the time).
 */
export const TOP_SQL = `SELECT
    tags['service'] AS service,
    tags['name'] AS endpoint,
    sum(count) AS spans,
    sumIf(count, tags['error'] = 'true') AS errors,
    quantilesDDMerge(0.01, 0.5, 0.99)(quantiles) AS p,
    any(dateDiff('second', toStartOfMinute(now() - toIntervalSecond({window_s:UInt32})), now())) AS seconds
FROM metrics_1m
WHERE name = 'ssf.span.duration' AND bucket >= toStartOfMinute(now() - toIntervalSecond({window_s:UInt32}))
GROUP BY service, endpoint
ORDER BY spans DESC, service, endpoint
LIMIT {limit:UInt32}`;

interface TopRow {
  service: string;
  endpoint: string;
  spans: number;
  errors: number;
  p: [number, number];
  seconds: number | string;
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** One screen of `ssf top`: a title line and the table. */
async function screen(client: ApiClient, windowMs: number, limit: number, width: number | undefined): Promise<string> {
  const answer = await client.json<{ data: TopRow[] }>('POST', '/v1/sql', {
    body: { sql: TOP_SQL, params: { window_s: Math.max(1, Math.round(windowMs / 1000)), limit }, format: 'json' },
    timeoutMs: 30_000,
  });
  const rows = answer.data;
  const seconds = Math.max(1, Number(rows[0]?.seconds ?? 1));
  const total = rows.reduce((a, r) => a + r.spans, 0);
  const errors = rows.reduce((a, r) => a + r.errors, 0);
  const title = `ssf top  ${client.target.address}  ${new Date().toISOString().slice(11, 19)} UTC  last ${Math.round(seconds)} s: ${fixed(total / seconds, 1)} spans/s, ${errors} errors`;
  if (rows.length === 0) return `${title}\n\nno spans in the last ${Math.round(seconds)} s (send some: ssf demo)`;
  const table = formatTable(
    [
      { name: 'SERVICE', numeric: false },
      { name: 'ENDPOINT', numeric: false },
      { name: 'RATE/s', numeric: true },
      { name: 'SPANS', numeric: true },
      { name: 'ERRORS', numeric: true },
      { name: 'ERR%', numeric: true },
      { name: 'P50 ms', numeric: true },
      { name: 'P99 ms', numeric: true },
    ],
    rows.map((r) => [
      r.service,
      r.endpoint,
      fixed(r.spans / seconds, 2),
      Math.round(r.spans),
      Math.round(r.errors),
      r.spans > 0 ? `${fixed((100 * r.errors) / r.spans, 1)}%` : '-',
      fixed(r.p[0], 1),
      fixed(r.p[1], 1),
    ]),
    { maxCellWidth: 40, maxLineWidth: width },
  );
  return `${title}\n\n${table}`;
}

export const topCommand: Command = {
  name: 'top',
  summary: 'live table of the busiest endpoints: rate, errors, latency',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const intervalMs = parseDurationArg(values.interval ?? '2s', '--interval');
    if (intervalMs < 200) throw new UsageError('--interval must be at least 200ms');
    const windowMs = parseDurationArg(values.window ?? '5m', '--window');
    if (windowMs < 1000 || windowMs > 86_400_000) throw new UsageError('--window must be from 1s to 24h');
    const limit = values.limit === undefined ? 30 : parseNumber(values.limit, '--limit');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000 (got "${values.limit}")`);
    const client = new ApiClient(apiTarget(values));
    const tty = process.stdout.isTTY === true;
    if (values.once) {
      process.stdout.write(`${await screen(client, windowMs, limit, tty ? process.stdout.columns : undefined)}\n`);
      return 0;
    }

    let stopped = false;
    let wake: (() => void) | undefined;
    const onSignal = (): void => {
      stopped = true;
      wake?.();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      while (!stopped) {
        const text = await screen(client, windowMs, limit, tty ? process.stdout.columns : undefined);
        // On a terminal: cursor home, clear, redraw. Elsewhere: one table after another.
        process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n\nCtrl-C to quit\n` : `${text}\n\n`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};
