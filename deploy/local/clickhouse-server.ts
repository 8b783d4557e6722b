/**
 * The development launcher of a ClickHouse HTTP endpoint (chDB behind
 * deploy/clickhouse/chdb-http-server.c). The engine-launching core is
 * src/clickhouse/local-engine.ts, which `ssf serve` uses too; this file adds
 * the command line and is what the tests' global setup imports.
 *
 * CLI: `node dist/deploy/local/clickhouse-server.js start [--port N] [--data DIR]`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ClickHouseServerError, repoRoot, startClickHouseServer } from '../../src/clickhouse/local-engine.js';
import type { StartClickHouseServerOptions } from '../../src/clickhouse/local-engine.js';

export { buildCProgram, ClickHouseServerError, ensureChdbHelper, startClickHouseServer } from '../../src/clickhouse/local-engine.js';
export type {
  ClickHouseServer,
  ClickHouseServerErrorCode,
  ServerExit,
  StartClickHouseServerOptions,
} from '../../src/clickhouse/local-engine.js';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      data: { type: 'string' },
      'config-file': { type: 'string' },
      users: { type: 'string' },
      setting: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
    },
  });
  if (positionals[0] !== 'start' || positionals.length > 1) {
    process.stderr.write(
      'usage: clickhouse-server.js start [--port N (default 8123, 0 = any)] [--data DIR (default <repo>/data/clickhouse)]\n' +
        '         [--users users.xml | --config-file config.xml] [--setting key=value]... [--log-level information]\n',
    );
    return 2;
  }
  const settings: Record<string, string> = {};
  for (const pair of values.setting ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ClickHouseServerError('INFRA_ERR_BAD_OPTION', `--setting expects key=value, got ${pair}`);
    settings[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const port = Number(values.port ?? 8123);
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !isLogLevel(logLevel)) {
    throw new ClickHouseServerError('INFRA_ERR_BAD_OPTION', `--log-level: one of trace, debug, information, warning, error`);
  }
  const server = await startClickHouseServer({
    dataDir: values.data ?? join(repoRoot(), 'data', 'clickhouse'),
    settings,
    log: (line) => process.stderr.write(`${line}\n`),
    ...(port === 0 ? {} : { port }),
    ...(values['config-file'] === undefined ? {} : { configFile: values['config-file'] }),
    ...(values.users === undefined ? {} : { usersFile: values.users }),
    ...(logLevel === undefined ? {} : { logLevel }),
  });
  process.stdout.write(`${server.url}\n`);
  const signalled = new Promise<NodeJS.Signals>((settle) => {
    process.once('SIGINT', () => settle('SIGINT'));
    process.once('SIGTERM', () => settle('SIGTERM'));
  });
  const outcome = await Promise.race([signalled, server.exited]);
  await server.stop();
  return typeof outcome === 'string' ? 0 : 1;
}

function isLogLevel(value: string): value is NonNullable<StartClickHouseServerOptions['logLevel']> {
  return ['trace', 'debug', 'information', 'warning', 'error'].includes(value);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  void main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
