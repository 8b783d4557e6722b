import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { migrate } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { clickhouseUrl, uniqueDatabase } from '../setup/services.js';
import { runCli } from './run-cli.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

const MAIN = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');

describe('ssf query-api: the query API as its own process', () => {
  it('refuses a stray argument with exit code 2', async () => {
    const r = await runCli(['query-api', 'extra']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unexpected argument "extra"/);
  });

  it('listens where told, reads the configured database, reports ready, and stops on SIGTERM', async () => {
    const database = uniqueDatabase('ssf_qapi');
    const config = loadConfig({ env: { SSF_CLICKHOUSE_URL: clickhouseUrl(), SSF_CLICKHOUSE_DATABASE: database } });
    const ch = await createClickHouse(config.clickhouse);
    await migrate(ch, config);
    await ch.close();
    const child = spawn(
      process.execPath,
      [...TSX_IMPORT, MAIN, 'query-api', '--clickhouse-url', clickhouseUrl(), '--database', database, '--listen', '127.0.0.1:0', '--json'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const http = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          // The --json line, among the server's own JSON log lines.
          const line = out.split('\n').find((l) => l.startsWith('{"pid"'));
          if (line) resolve((JSON.parse(line) as { http: string }).http);
        });
        child.on('exit', () => reject(new Error(`ssf query-api exited: ${out}`)));
      });
      expect((await fetch(`${http}/-/ready`)).status).toBe(200);
      const res = await fetch(`${http}/v1/sql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT count() AS n FROM spans' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { data: unknown }).data).toEqual([{ n: '0' }]);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
