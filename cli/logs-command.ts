import { ApiClient, API_HELP, API_OPTIONS, apiTarget } from './api-client.js';
import type { QueryValue } from './api-client.js';
import type { Command } from './command.js';
import { parse, parseNumber, UsageError } from './command.js';
import { parseDurationArg } from './duration-arg.js';
import { isTraceId } from './trace-command.js';

const SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

const HELP = `Usage: ssf logs [<query>] [--service S] [--severity LEVEL] [--trace ID] [--since 15m] [--limit N] [--follow]

Searches the log lines (GET /v1/logs) and prints the newest matches, oldest
first, one a line: time (UTC), service, severity, the body (matched terms in
bold on a terminal) and the trace it belongs to.

  ssf logs timeout
  ssf logs 'card declined' --service payments --since 1h
  ssf logs --severity error --follow

Options:
  --service NAME       only this service
  --severity LEVEL     only this level and worse: trace, debug, info, warn, error, fatal
  --trace ID           only the lines of this trace
  --since DURATION     how far back to search: 30s, 15m, 2h, 7d (default 15m)
  --limit N            at most N lines (default 100, at most 1000)
  --follow, -f         then keep printing new lines as they arrive, like tail -f,
                       until Ctrl-C (asks every second; a line is never repeated)
  --color WHEN         auto (default: on a terminal, unless $NO_COLOR), always, never
${API_HELP}
  -h, --help           this help

Exit codes: 0 done (also when nothing matched), 1 refused or unreachable, 2 bad arguments.`;

const OPTIONS = {
  ...API_OPTIONS,
  service: { type: 'string' },
  severity: { type: 'string' },
  trace: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  color: { type: 'string' },
} as const;

/** One line of GET /v1/logs. */
export interface LogLine {
  timestamp: string | number;
  service: string;
  severity: string;
  body: string;
  trace_id_hex?: string;
  /** All 128 bits: what is printed when the high 64 are not 0 (an OTLP or W3C trace, as its sender shows it). */
  trace_id_128?: string;
  span_id_hex?: string;
  attributes?: Record<string, string>;
  highlights?: Array<[number, number]>;
}

interface LogsPage {
  logs: LogLine[];
  next_cursor?: string | null;
}

/** How late a line may arrive (after a newer one was printed) and still be shown by --follow. */
const FOLLOW_LOOKBACK_MS = 3_000;
const FOLLOW_EVERY_MS = 1_000;

/**
 * A log timestamp as epoch milliseconds (fractional): ClickHouse's
 * `2026-05-01 10:00:00.123456789` (UTC), RFC 3339, or a number of
 * nanoseconds or milliseconds since the epoch.
 */
export function timestampMs(value: string | number): number {
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const n = Number(value);
    return n >= 1e17 ? n / 1e6 : n >= 1e14 ? n / 1e3 : n;
  }
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (m) {
    const whole = Date.parse(`${m[1]}T${m[2]}${m[4] ?? 'Z'}`);
    return whole + (m[3] ? Number(`0.${m[3]}`) * 1000 : 0);
  }
  return Date.parse(value);
}

function timeText(ms: number): string {
  return Number.isFinite(ms) ? new Date(Math.floor(ms)).toISOString() : '?';
}

const BOLD = '\x1b[1m';
const NORMAL = '\x1b[22m';
const RESET = '\x1b[0m';
const SEVERITY_COLOR: Record<string, string> = { warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[35m', debug: '\x1b[2m', trace: '\x1b[2m' };

/** The body on one line, the highlighted ranges (character offsets) in bold when `color`. */
export function renderBody(body: string, highlights: ReadonlyArray<readonly [number, number]> | undefined, color: boolean): string {
  const escapeText = (s: string): string => s.replace(/\r?\n/g, '\\n').replace(/\t/g, ' ');
  if (!color || !highlights || highlights.length === 0) return escapeText(body);
  const ranges = [...highlights].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let out = '';
  let at = 0;
  for (const [start, end] of ranges) {
    const a = Math.max(start, at);
    const b = Math.min(end, body.length);
    if (b <= a) continue;
    out += escapeText(body.slice(at, a)) + BOLD + escapeText(body.slice(a, b)) + NORMAL;
    at = b;
  }
  return out + escapeText(body.slice(at));
}

/** Prints log lines and remembers them, so --follow never prints one twice. */
class LogPrinter {
  private serviceWidth = 8;
  /** Keys of printed lines no older than the lookback window of the newest, by timestamp. */
  private readonly seen = new Map<string, number>();
  newestMs = -Infinity;

  constructor(private readonly color: boolean) {}

  print(line: LogLine): void {
    const ms = timestampMs(line.timestamp);
    const key = `${line.timestamp}\u0000${line.service}\u0000${line.span_id_hex ?? ''}\u0000${line.severity}\u0000${line.body}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, ms);
    if (ms > this.newestMs) this.newestMs = ms;
    this.serviceWidth = Math.max(this.serviceWidth, line.service.length);
    const sev = line.severity.toUpperCase().padEnd(5);
    const severity = this.color && SEVERITY_COLOR[line.severity] ? `${SEVERITY_COLOR[line.severity]}${sev}${RESET}` : sev;
    const id = line.trace_id_128 && !line.trace_id_128.startsWith('0'.repeat(16)) ? line.trace_id_128 : line.trace_id_hex;
    const trace = id && !/^0+$/.test(id) ? `  trace=${id}` : '';
    process.stdout.write(
      `${timeText(ms)}  ${line.service.padEnd(this.serviceWidth)}  ${severity}  ${renderBody(line.body, line.highlights, this.color)}${trace}\n`,
    );
  }

  /** Forgets lines too old to come back in the next poll. */
  prune(): void {
    const oldest = this.newestMs - FOLLOW_LOOKBACK_MS - 1;
    for (const [key, ms] of this.seen) if (ms < oldest) this.seen.delete(key);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

export const logsCommand: Command = {
  name: 'logs',
  summary: 'search log lines (full text), or follow them as they arrive',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, OPTIONS);
    if (positionals.length > 1) throw new UsageError(`give the search as one argument (quote it): got ${positionals.length} arguments`);
    const q = positionals[0];
    if (values.severity !== undefined && !(SEVERITIES as readonly string[]).includes(values.severity))
      throw new UsageError(`--severity must be one of ${SEVERITIES.join(', ')} (got "${values.severity}")`);
    if (values.trace !== undefined && !isTraceId(values.trace))
      throw new UsageError(`--trace "${values.trace}" is not a trace id: give 16 hex digits, a decimal 64-bit integer or a 32-hex-digit W3C trace id`);
    const sinceMs = parseDurationArg(values.since ?? '15m', '--since');
    if (sinceMs <= 0) throw new UsageError('--since must be more than 0');
    const limit = values.limit === undefined ? 100 : parseNumber(values.limit, '--limit');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000 (got "${values.limit}")`);
    const colorWhen = values.color ?? 'auto';
    if (!['auto', 'always', 'never'].includes(colorWhen)) throw new UsageError(`--color is auto, always or never (got "${colorWhen}")`);
    const color = colorWhen === 'always' || (colorWhen === 'auto' && process.stdout.isTTY === true && !process.env['NO_COLOR']);
    const client = new ApiClient(apiTarget(values));

    const filters: Record<string, QueryValue> = { q, service: values.service, severity: values.severity, trace_id: values.trace };
    const printer = new LogPrinter(color);
    const startedMs = Date.now();
    // The newest `limit` lines, printed oldest first.
    const first = await client.json<LogsPage>('GET', '/v1/logs', { query: { ...filters, from: Math.floor(startedMs - sinceMs), limit, order: 'desc' } });
    for (const line of [...first.logs].reverse()) printer.print(line);
    if (!values.follow) {
      if (first.logs.length === 0) process.stderr.write(`no log lines matched in the last ${values.since ?? '15m'}\n`);
      return 0;
    }

    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      let fromMs = first.logs.length > 0 ? printer.newestMs : startedMs - 1;
      while (!stop.signal.aborted) {
        await sleep(FOLLOW_EVERY_MS, stop.signal);
        if (stop.signal.aborted) break;
        // Ask again from a little before the newest printed line (late lines still show up); the printer drops repeats.
        let cursor: string | undefined;
        for (let page = 0; page < 20 && !stop.signal.aborted; page++) {
          const answer = await client.json<LogsPage>('GET', '/v1/logs', {
            query: { ...filters, from: Math.floor(fromMs - FOLLOW_LOOKBACK_MS), limit: 1000, order: 'asc', cursor },
            timeoutMs: 30_000,
          });
          for (const line of answer.logs) printer.print(line);
          if (!answer.next_cursor || answer.logs.length === 0) break;
          cursor = answer.next_cursor;
        }
        if (Number.isFinite(printer.newestMs)) fromMs = Math.max(fromMs, printer.newestMs);
        printer.prune();
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};
