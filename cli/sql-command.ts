import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiClient, ApiError, API_HELP, API_OPTIONS, apiTarget } from './api-client.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';
import { formatTable, isNumericType, rowsLine } from './table-format.js';

const FORMATS = ['table', 'csv', 'tsv', 'json', 'ndjson', 'parquet'] as const;
type Format = (typeof FORMATS)[number];

const BY_EXTENSION: Record<string, Format> = { csv: 'csv', tsv: 'tsv', json: 'json', ndjson: 'ndjson', jsonl: 'ndjson', parquet: 'parquet', txt: 'table' };

const HELP = `Usage: ssf sql "<query>" [--format FORMAT] [--out FILE] [--param NAME=VALUE ...]

Runs one read-only SQL statement over the pipeline's tables (POST /v1/sql;
the tables are described in docs/tables.md) and prints the answer.

  ssf sql "SELECT service, count() AS spans FROM spans GROUP BY service ORDER BY spans DESC"
  ssf sql "SELECT * FROM logs WHERE hasToken(body, {term:String}) LIMIT 10" --param term=timeout
  ssf sql "SELECT * FROM spans LIMIT 1000" --out spans.parquet

The query "-" reads it from standard input.

Options:
  --format FORMAT      table (default: aligned columns, a row count and the
                       time taken), or the API's own output, unchanged:
                       csv, tsv (both with a header line), json (ClickHouse's
                       JSON: meta, data, rows), ndjson, parquet
                       (needs --out). With --out, the default comes from the
                       file's extension (.csv, .tsv, .json, .ndjson, .parquet).
  --out FILE           write the answer to FILE instead of standard output
  --param NAME=VALUE   the value of a {NAME:Type} parameter in the query
                       (repeatable); ClickHouse binds it, it is never spliced
                       into the text
${API_HELP}
  -h, --help           this help

Exit codes: 0 answered, 1 refused or unreachable (the reason is printed), 2 bad arguments.`;

const OPTIONS = {
  ...API_OPTIONS,
  format: { type: 'string' },
  out: { type: 'string' },
  param: { type: 'string', multiple: true },
} as const;

interface JsonAnswer {
  meta: Array<{ name: string; type: string }>;
  data: Array<Record<string, unknown>>;
  rows: number;
}

/** `--param name=value` pairs; names are identifiers (as the API requires). */
export function parseParams(values: readonly string[] | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const v of values ?? []) {
    const at = v.indexOf('=');
    const name = at === -1 ? '' : v.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--param takes NAME=VALUE with NAME an identifier (got "${v}")`);
    params[name] = v.slice(at + 1);
  }
  return params;
}

function chooseFormat(flag: string | undefined, out: string | undefined): Format {
  if (flag !== undefined) {
    if (!(FORMATS as readonly string[]).includes(flag)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got "${flag}")`);
    return flag as Format;
  }
  const ext = out?.match(/\.([A-Za-z0-9]+)$/)?.[1]?.toLowerCase();
  return (ext && BY_EXTENSION[ext]) || 'table';
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const sqlCommand: Command = {
  name: 'sql',
  summary: 'run a SQL query over the tables and print a table, CSV, JSON or Parquet',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, OPTIONS);
    if (positionals.length === 0) throw new UsageError('give the query, e.g. ssf sql "SELECT count() FROM spans"');
    if (positionals.length > 1) throw new UsageError(`give the query as one argument (quote it); got ${positionals.length} arguments`);
    const format = chooseFormat(values.format, values.out);
    if (format === 'parquet' && values.out === undefined) throw new UsageError('--format parquet writes binary: give --out FILE');
    const params = parseParams(values.param);
    const client = new ApiClient(apiTarget(values));
    const sql = positionals[0] === '-' ? await readStdin() : (positionals[0] as string);
    if (sql.trim() === '') throw new UsageError('the query is empty');

    const started = performance.now();
    if (format === 'table') {
      const answer = await client.json<JsonAnswer>('POST', '/v1/sql', { body: { sql, params, format: 'json' } });
      const elapsed = (performance.now() - started) / 1000;
      const columns = answer.meta.map((m) => ({ name: m.name, numeric: isNumericType(m.type) }));
      const rows = answer.data.map((row) => answer.meta.map((m) => row[m.name]));
      const toTerminal = values.out === undefined && process.stdout.isTTY;
      const table = formatTable(columns, rows, { maxLineWidth: toTerminal ? process.stdout.columns : undefined });
      const summary = rowsLine(answer.rows, elapsed);
      if (values.out !== undefined) {
        await writeFile(values.out, `${table}\n`);
        process.stderr.write(`${summary}, written to ${values.out}\n`);
      } else {
        process.stdout.write(`${table}\n\n${summary}\n`);
      }
      return 0;
    }

    const res = await client.request('POST', '/v1/sql', { body: { sql, params, format } });
    if (!res.body) return 0;
    const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    let bytes = 0;
    source.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      if (values.out !== undefined) await pipeline(source, createWriteStream(values.out));
      else await pipeline(source, stdoutKeptOpen());
    } catch (err) {
      // The API ends a streamed answer without its terminator when the query fails midway.
      throw new ApiError(
        `the answer was cut short after ${bytes} bytes (${(err as Error).message}); the query failed while streaming`,
        'CUT_SHORT',
        res.status,
      );
    }
    if (values.out !== undefined)
      process.stderr.write(`${bytes} bytes of ${format} in ${((performance.now() - started) / 1000).toFixed(3)} s, written to ${values.out}\n`);
    return 0;
  },
};

/** Standard output as a pipeline destination that the pipeline does not end. */
function stdoutKeptOpen(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (process.stdout.write(chunk)) callback();
      else process.stdout.once('drain', () => callback());
    },
  });
}
