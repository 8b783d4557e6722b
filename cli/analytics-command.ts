import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createClickHouse } from '../src/clickhouse/create-client.js';
import type { ClickHouse } from '../src/clickhouse/create-client.js';
import { loadConfig } from '../src/config/load-config.js';
import type { Config } from '../src/config/config-schema.js';
import type { Command } from './command.js';
import { parse, parseNumber, UsageError } from './command.js';
import { parseDuration, parseTime } from '../query/time-range.js';

const COMMON_HELP = `  --clickhouse-url URL   ClickHouse HTTP endpoint (default $SSF_CLICKHOUSE_URL; empty: the local
                         engine in $SSF_CLICKHOUSE_DATA_PATH)
  --database NAME        database of the tables (default $SSF_CLICKHOUSE_DATABASE or ssf)`;
const STATE_HELP = `  --state FILE           the job's state file, which makes a rerun continue (default
                         .cache/analytics/<job>-<hash of the arguments>.json)
  --restart              ignore the state file: start again from the beginning
  --json                 print the result as one JSON object`;
const TIME_HELP = `Times: RFC 3339 (2026-11-21T10:00:00Z), epoch milliseconds, now, or now-<n><s|m|h|d|w>.
Give absolute times to resume a job: a relative time is another range on every run.`;

const JOBS = {
  'slo-report': {
    summary: 'availability, latency and error budget per service, as text, JSON or an HTML page',
    help: `Usage: ssf analytics slo-report --from TIME --to TIME [--objective 0.999] [--format text|json|html] [--out FILE] [--address URL]

Per service over the range: availability (of its indicator spans when it has
any, otherwise of all its spans), p50 and p99 latency, the error budget the
objective allows and how much of it was burnt, and the worst endpoints by
error rate and by p99. The HTML form is one self-contained page with charts:
availability against the objective, p99 over time, error budget left.

Options:
  --from TIME            start of the range (required; rounded down to the minute)
  --to TIME              end of the range (required; rounded up to the minute)
  --objective RATIO      availability target in (0, 1) (default 0.999)
  --format FORMAT        text, json or html (default text)
  --out FILE             write the report there (default: standard output)
  --worst N              endpoints in each worst-of list (default 5)
  --tenant NAME          the tenant to report on (default $SSF_GATEWAY_DEFAULT_TENANT or default)
  --address URL          ask a running pipeline's query API instead (GET /v1/reports/slo), e.g.
                         http://127.0.0.1:8127 while \`ssf serve\` holds the local engine;
                         the tenant is then the token's (--token, default $SSF_TOKEN)
  --token TOKEN          bearer token for --address
${COMMON_HELP}
  -h, --help             this help

${TIME_HELP}`,
  },
  export: {
    summary: 'write a table to Parquet files, one per hour (resumable)',
    help: `Usage: ssf analytics export --table TABLE --from TIME --to TIME --out DIR [--chunk 1h]

Writes one tenant's rows of TABLE in [from, to) as Parquet (ClickHouse's own
Parquet output), one file per chunk of time: DIR/<table>-<UTC start>.parquet.
Empty chunks get an empty file, so DIR covers the whole range. Read them all
back with e.g. SELECT ... FROM file('DIR/*.parquet'). Each file is written
under a temporary name and renamed when complete; a rerun skips the files
already written, so an interrupted export continues and a finished one is a
no-op. The event tables are exported as stored; metrics_1m, metrics_1h and
trace_index merged and finalized (one row per series and bucket, per trace).

Options:
  --table TABLE          spans, logs, samples, trace_index, metrics_1m or metrics_1h (required)
  --from TIME            start of the range (required)
  --to TIME              end of the range, excluded (required)
  --out DIR              directory of the Parquet files (required; created)
  --chunk DURATION       length of one file, whole minutes (default 1h)
  --tenant NAME          the tenant to export (default $SSF_GATEWAY_DEFAULT_TENANT or default)
${STATE_HELP}
${COMMON_HELP}
  -h, --help             this help

Each chunk is one query under the query limits (query.maxResultRows,
query.maxResultBytes, query.maxExecutionTimeS): give a shorter --chunk if one
is refused.

${TIME_HELP}`,
  },
  'rebuild-rollups': {
    summary: 'recompute metrics_1m and metrics_1h for a range from samples and spans',
    help: `Usage: ssf analytics rebuild-rollups --from TIME --to TIME

Recomputes the metric rollups of whole hours (the range is widened to them),
for every tenant: deletes the hours' rows from metrics_1m and metrics_1h,
then inserts metrics_1m again with the materialized views' own SELECTs
(schema/clickhouse/0003_samples.sql, 0004_span_metrics.sql) over the hours'
samples and spans; that insert refills metrics_1h through its view, as live
data does. Hour by hour, each hour done whole, so running it twice gives the
same rows, and an interrupted run continues with the hour it stopped in.
The current hour (still receiving data) and hours past the retention of
samples and spans are refused.

Options:
  --from TIME            start of the range (required; rounded down to the hour)
  --to TIME              end of the range (required; rounded up to the hour)
${STATE_HELP}
${COMMON_HELP}
  -h, --help             this help

${TIME_HELP}`,
  },
  replay: {
    summary: 'send events from a file or Kafka offsets through the gateway again (resumable)',
    help: `Usage: ssf analytics replay --from-file FILE [options]
       ssf analytics replay --from-kafka --topic T --partition P --start-offset N [--end-offset M] [options]

Sends events back into the pipeline through the gateway's POST /v1/ssf:
  --from-file FILE.ndjson  one SSFSpan per line in proto3 JSON (the JSON form of POST /v1/ssf)
  --from-file FILE.parquet a Parquet file or a directory of them written by
                           \`ssf analytics export --table spans|logs|samples\`
  --from-kafka             records of a spans topic (SSFBatch records, as the gateway writes them)

A state file records the position after every batch the gateway accepted:
a rerun continues there, and a finished replay sends nothing again. Only
the one batch in flight when a run died can be sent twice (the resumed run
names it). --restart sends everything again: the tables then hold the events
twice. docs/analytics.md explains why.

Options:
  --address URL          the gateway (default http://<gateway.httpListen>, http://127.0.0.1:8127)
  --token TOKEN          bearer token of the tenant to write as (default $SSF_TOKEN)
  --batch-size N         spans per request (default 500)
  --topic T              Kafka: the topic
  --partition P          Kafka: the partition
  --start-offset N       Kafka: the first offset replayed
  --end-offset M         Kafka: the first offset not replayed (default: the end of the
                         partition when the replay first runs)
  --brokers LIST         Kafka: host:port,... (default $SSF_KAFKA_BROKERS)
  --only-tenant NAME     Kafka: only spans the gateway stamped with this tenant
${STATE_HELP}
  -h, --help             this help`,
  },
} as const;

type JobName = keyof typeof JOBS;
const JOB_NAMES = Object.keys(JOBS) as JobName[];

const OVERVIEW = `Usage: ssf analytics <job> [options]

Batch jobs over the tables. Long jobs show progress on stderr (a bar on a
terminal, a line every few seconds otherwise), keep a state file so an
interrupted run continues (Ctrl-C stops after the piece in hand), and are
safe to run twice.

Jobs:
${JOB_NAMES.map((j) => `  ${j.padEnd(16)} ${JOBS[j].summary}`).join('\n')}

Run \`ssf analytics <job> --help\` for a job's options. docs/analytics.md has the details.`;

/** The job named on the command line, for `--help` (main prints `help` before `run`). */
function jobInArgv(argv: readonly string[]): JobName | undefined {
  const at = argv.indexOf('analytics');
  const job = at === -1 ? undefined : argv[at + 1];
  return JOB_NAMES.find((j) => j === job);
}

const COMMON_OPTIONS = { 'clickhouse-url': { type: 'string' }, database: { type: 'string' } } as const;
const STATE_OPTIONS = { state: { type: 'string' }, restart: { type: 'boolean' }, json: { type: 'boolean' } } as const;

function configOf(values: { 'clickhouse-url'?: string | undefined; database?: string | undefined }, extra: Record<string, unknown> = {}): Readonly<Config> {
  return loadConfig({ overrides: { clickhouse: { url: values['clickhouse-url'], database: values.database }, ...extra } });
}

function timeArg(value: string | undefined, flag: string): number {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  const ms = parseTime(value);
  if (ms === undefined) throw new UsageError(`${flag} "${value}" is not a time: give RFC 3339, epoch milliseconds, now or now-<n><s|m|h|d|w>`);
  return ms;
}

function rangeArgs(values: { from?: string | undefined; to?: string | undefined }): { fromMs: number; toMs: number } {
  const fromMs = timeArg(values.from, '--from');
  const toMs = timeArg(values.to, '--to');
  if (!(toMs > fromMs)) throw new UsageError('--to must be after --from');
  return { fromMs, toMs };
}

function noPositionals(positionals: string[]): void {
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
}

function intArg(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = parseNumber(value, flag);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number >= ${min} (got "${value}")`);
  return n;
}

/** Ctrl-C (and SIGTERM) stop a job after the piece of work in hand; its state then resumes there. */
function interruptible(): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const stop = (): void => {
    if (!controller.signal.aborted) process.stderr.write('\nstopping after the current piece of work (state is saved; run again to continue)\n');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal: controller.signal,
    done: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

async function withClickHouse<T>(config: Readonly<Config>, reader: boolean, fn: (ch: ClickHouse) => Promise<T>): Promise<T> {
  const ch = await createClickHouse(config.clickhouse, { readonlyUser: reader });
  try {
    return await fn(ch);
  } finally {
    await ch.close();
  }
}

/** Errors of a job that are the arguments' fault: answered like bad arguments (exit 2). */
async function asUsage<T>(fn: () => Promise<T>): Promise<T> {
  const { JobInputError } = await import('../query/analytics/job-input-error.js');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof JobInputError) throw new UsageError(err.message);
    throw err;
  }
}

async function sloReportJob(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...COMMON_OPTIONS,
    from: { type: 'string' },
    to: { type: 'string' },
    objective: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    worst: { type: 'string' },
    tenant: { type: 'string' },
    address: { type: 'string' },
    token: { type: 'string' },
  });
  noPositionals(positionals);
  const { fromMs, toMs } = rangeArgs(values);
  const objective = values.objective === undefined ? 0.999 : parseNumber(values.objective, '--objective');
  if (!(objective > 0 && objective < 1)) throw new UsageError(`--objective must be in (0, 1), e.g. 0.999 (got ${values.objective})`);
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json' && format !== 'html') throw new UsageError(`--format is text, json or html (got "${format}")`);
  const worst = intArg(values.worst, '--worst', 1) ?? 5;
  let text: string;
  let services: number | undefined;
  if (values.address !== undefined) {
    if (values.tenant !== undefined) throw new UsageError("--tenant goes without --address: through the API the tenant is the token's");
    const { ApiClient, apiTarget } = await import('./api-client.js');
    const api = new ApiClient(apiTarget({ address: values.address, token: values.token }));
    text = await api.text('GET', '/v1/reports/slo', { query: { from: fromMs, to: toMs, objective, worst, format } });
  } else {
    const config = configOf(values);
    const tenant = values.tenant ?? config.gateway.defaultTenant;
    const { QueryRunner } = await import('../query/query-runner.js');
    const { sloReport, sloReportText } = await import('../query/analytics/slo-report.js');
    const { sloReportHtml } = await import('../query/analytics/slo-report-html.js');
    const report = await asUsage(() =>
      withClickHouse(config, true, (ch) => sloReport(new QueryRunner(ch, config.query), { tenant, fromMs, toMs, objective, worst })),
    );
    services = report.services.length;
    text = format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'html' ? sloReportHtml(report) : sloReportText(report);
  }
  if (values.out !== undefined) {
    writeFileSync(values.out, text);
    process.stderr.write(`slo-report: ${services === undefined ? '' : `${services} services, `}written to ${values.out}\n`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}

async function exportJob(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...COMMON_OPTIONS,
    ...STATE_OPTIONS,
    table: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    out: { type: 'string' },
    chunk: { type: 'string' },
    tenant: { type: 'string' },
  });
  noPositionals(positionals);
  const { EXPORT_TABLES, exportTable } = await import('../query/analytics/export-table.js');
  const table = EXPORT_TABLES.find((t) => t === values.table);
  if (values.table === undefined) throw new UsageError(`--table is required: ${EXPORT_TABLES.join(', ')}`);
  if (!table) throw new UsageError(`--table "${values.table}" is not one of ${EXPORT_TABLES.join(', ')}`);
  const { fromMs, toMs } = rangeArgs(values);
  if (values.out === undefined) throw new UsageError('--out DIR is required (a directory: one Parquet file per chunk)');
  if (existsSync(values.out) && !statSync(values.out).isDirectory())
    throw new UsageError(`--out ${values.out} is a file; give a directory (one Parquet file per chunk goes in it)`);
  const chunkMs = values.chunk === undefined ? 3_600_000 : parseDuration(values.chunk);
  if (chunkMs === undefined || chunkMs < 60_000 || chunkMs % 60_000 !== 0)
    throw new UsageError(`--chunk must be whole minutes, at least 1m (got "${values.chunk}")`);
  const config = configOf(values);
  const tenant = values.tenant ?? config.gateway.defaultTenant;
  const { QueryRunner } = await import('../query/query-runner.js');
  const { createProgress } = await import('../query/analytics/progress.js');
  const stop = interruptible();
  try {
    const result = await asUsage(() =>
      withClickHouse(config, true, (ch) =>
        exportTable(new QueryRunner(ch, config.query), {
          table,
          tenant,
          fromMs,
          toMs,
          chunkMs,
          outDir: values.out as string,
          statePath: values.state,
          restart: values.restart ?? false,
          progress: (total) => createProgress({ label: 'export', total, unit: 'parts' }),
          signal: stop.signal,
        }),
      ),
    );
    if (values.json) console.log(JSON.stringify(result));
    else console.log(`exported ${result.rows} rows of ${table} (tenant ${tenant}) to ${result.parts.length} Parquet files in ${values.out}`);
    return result.interrupted ? 130 : 0;
  } finally {
    stop.done();
  }
}

async function rebuildJob(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON_OPTIONS, ...STATE_OPTIONS, from: { type: 'string' }, to: { type: 'string' } });
  noPositionals(positionals);
  const { fromMs, toMs } = rangeArgs(values);
  const config = configOf(values);
  const { rebuildRange, rebuildRollups } = await import('../query/analytics/rebuild-rollups.js');
  // Checked before connecting: a refused range touches nothing.
  await asUsage(async () => rebuildRange(fromMs, toMs, config.retention));
  const { createProgress } = await import('../query/analytics/progress.js');
  const stop = interruptible();
  try {
    const result = await asUsage(() =>
      withClickHouse(config, false, (ch) =>
        rebuildRollups(ch, {
          fromMs,
          toMs,
          retention: config.retention,
          statePath: values.state,
          restart: values.restart ?? false,
          progress: (total) => createProgress({ label: 'rebuild-rollups', total, unit: 'hours' }),
          signal: stop.signal,
        }),
      ),
    );
    if (values.json) console.log(JSON.stringify(result));
    else
      console.log(
        `rebuilt metrics_1m and metrics_1h for ${result.hours.length} hours, ${new Date(result.fromMs).toISOString()} to ${new Date(result.toMs).toISOString()}`,
      );
    return result.interrupted ? 130 : 0;
  } finally {
    stop.done();
  }
}

async function replayJob(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...STATE_OPTIONS,
    'from-file': { type: 'string' },
    'from-kafka': { type: 'boolean' },
    topic: { type: 'string' },
    partition: { type: 'string' },
    'start-offset': { type: 'string' },
    'end-offset': { type: 'string' },
    brokers: { type: 'string' },
    'only-tenant': { type: 'string' },
    address: { type: 'string' },
    token: { type: 'string' },
    'batch-size': { type: 'string' },
  });
  noPositionals(positionals);
  const file = values['from-file'];
  const fromKafka = values['from-kafka'] === true;
  if ((file === undefined) === !fromKafka)
    throw new UsageError('give one source: --from-file FILE, or --from-kafka with --topic, --partition and --start-offset');
  const kafkaFlags = (['topic', 'partition', 'start-offset', 'end-offset', 'brokers', 'only-tenant'] as const).filter((f) => values[f] !== undefined);
  if (!fromKafka && kafkaFlags.length > 0) throw new UsageError(`--${kafkaFlags[0]} goes with --from-kafka`);
  const batchSize = intArg(values['batch-size'], '--batch-size', 1) ?? 500;
  const config = loadConfig({
    overrides: {
      kafka: {
        brokers:
          values.brokers === undefined
            ? undefined
            : values.brokers
                .split(',')
                .map((b) => b.trim())
                .filter((b) => b !== ''),
      },
    },
  });
  const address = values.address ?? `http://${config.gateway.httpListen}`;
  if (!/^https?:\/\/[^/\s]+/.test(address)) throw new UsageError(`--address must be an http(s):// URL of the gateway (got "${address}")`);

  const sources = await import('../query/analytics/replay-sources.js');
  const { kafkaInput } = await import('../query/analytics/replay-kafka.js');
  const { replay } = await import('../query/analytics/replay.js');
  const { createProgress } = await import('../query/analytics/progress.js');
  let input: import('../query/analytics/replay-sources.js').ReplayInput;
  if (file !== undefined) {
    if (!existsSync(file)) throw new UsageError(`--from-file ${file} does not exist`);
    if (statSync(file).isDirectory() || file.endsWith('.parquet')) input = sources.parquetInput(file);
    else if (/\.(ndjson|jsonl|json)$/.test(file)) input = sources.ndjsonInput(file);
    else throw new UsageError(`--from-file ${file}: give a .ndjson (or .jsonl) file, a .parquet file or a directory of them`);
  } else {
    if (values.topic === undefined) throw new UsageError('--from-kafka needs --topic');
    const partition = intArg(values.partition, '--partition', 0);
    const startOffset = intArg(values['start-offset'], '--start-offset', 0);
    if (partition === undefined) throw new UsageError('--from-kafka needs --partition');
    if (startOffset === undefined) throw new UsageError('--from-kafka needs --start-offset');
    const endOffset = intArg(values['end-offset'], '--end-offset', 0);
    if (endOffset !== undefined && endOffset < startOffset) throw new UsageError(`--end-offset ${endOffset} is before --start-offset ${startOffset}`);
    input = await asUsage(async () =>
      kafkaInput(config.kafka, { topic: values.topic as string, partition, startOffset, endOffset, onlyTenant: values['only-tenant'] }),
    );
  }
  const replayInput = input;
  const stop = interruptible();
  try {
    const result = await asUsage(() =>
      replay(replayInput, {
        address,
        token: values.token ?? process.env['SSF_TOKEN'],
        batchSize,
        statePath: values.state,
        restart: values.restart ?? false,
        progress: (total, unit) => createProgress({ label: 'replay', total, unit }),
        log: (line) => process.stderr.write(`replay: ${line}\n`),
        signal: stop.signal,
      }),
    );
    if (values.json) console.log(JSON.stringify(result));
    else if (!result.alreadyDone)
      console.log(`replayed ${result.describe}: ${result.accepted} spans accepted (${result.events} events), ${result.rejected} refused`);
    return result.interrupted ? 130 : 0;
  } finally {
    stop.done();
  }
}

const RUN: Record<JobName, (args: string[]) => Promise<number>> = {
  'slo-report': sloReportJob,
  export: exportJob,
  'rebuild-rollups': rebuildJob,
  replay: replayJob,
};

export const analyticsCommand: Command = {
  name: 'analytics',
  summary: 'batch jobs: SLO report, Parquet export, rollup rebuild, replay',
  // main prints `help` for `ssf analytics <job> --help` before calling run(): the job's own help then.
  get help(): string {
    const job = jobInArgv(process.argv);
    return job ? JOBS[job].help : OVERVIEW;
  },
  async run(args) {
    const [job, ...rest] = args;
    if (job === undefined) throw new UsageError(`say which job: ${JOB_NAMES.join(', ')}`);
    const name = JOB_NAMES.find((j) => j === job);
    if (!name) throw new UsageError(`unknown job "${job}": ${JOB_NAMES.join(', ')}`);
    try {
      return await RUN[name]([job, ...rest]);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${name}: ${err.message} (see \`ssf analytics ${name} --help\`)`);
      throw err;
    }
  },
};
