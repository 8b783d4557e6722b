import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../src/config/config-docs.js';
import { listSettings, loadConfig } from '../../src/config/load-config.js';
import { secondsToMs } from '../../src/config/config-schema.js';
import { createHttpServer } from '../../src/http/create-http-server.js';
import { execFileSync } from 'node:child_process';

describe('configuration', () => {
  it('fills every default and freezes the result', () => {
    const c = loadConfig({ env: {} });
    expect(c.clickhouse.url).toBe('');
    expect(c.clickhouse.database).toBe('ssf');
    expect(c.kafka.brokers).toEqual([]);
    expect(c.gateway.httpListen).toBe('127.0.0.1:8127');
    expect(Object.isFrozen(c) && Object.isFrozen(c.kafka) && Object.isFrozen(c.kafka.brokers)).toBe(true);
  });

  it('reads typed environment variables: numbers, booleans, lists and maps', () => {
    const c = loadConfig({
      env: {
        SSF_CLICKHOUSE_URL: 'http://ch:8123',
        SSF_KAFKA_BROKERS: 'k1:9092, k2:9092',
        SSF_KAFKA_PARTITIONS: '12',
        SSF_KAFKA_SSL: 'true',
        SSF_GATEWAY_AUTH_TOKENS: 'tok1=acme,tok2=globex',
        SSF_RETENTION_LOGS_DAYS: '7',
        PATH: '/usr/bin',
      },
    });
    expect(c.clickhouse.url).toBe('http://ch:8123');
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.kafka.partitions).toBe(12);
    expect(c.kafka.ssl).toBe(true);
    expect(c.gateway.authTokens).toEqual({ tok1: 'acme', tok2: 'globex' });
    expect(c.retention.logsDays).toBe(7);
  });

  it('refuses an unknown variable with the closest setting as a hint', () => {
    expect(() => loadConfig({ env: { SSF_KAFKA_BROKER_LIST: 'x' } })).toThrow(/unknown setting SSF_KAFKA_BROKER_LIST: use SSF_KAFKA_BROKERS/);
    expect(() => loadConfig({ env: { SSF_CLICKHOUSE_HOST: 'x' } })).toThrow(/use SSF_CLICKHOUSE_URL \(a full URL/);
  });

  it('refuses bad values naming the setting and its variable', () => {
    expect(() => loadConfig({ env: { SSF_KAFKA_PARTITIONS: 'many' } })).toThrow(/SSF_KAFKA_PARTITIONS="many" is not a number/);
    expect(() => loadConfig({ env: { SSF_GATEWAY_HTTP_LISTEN: 'nope' } })).toThrow(/gateway.httpListen \(SSF_GATEWAY_HTTP_LISTEN\): must be host:port/);
    expect(() => loadConfig({ env: { SSF_CLICKHOUSE_DATABASE: 'x; DROP' } })).toThrow(/clickhouse.database/);
    expect(() => loadConfig({ env: { SSF_KAFKA_COMPRESSION: 'lz4' } })).toThrow(/kafka.compression/);
  });

  it('refuses a duration longer than a timer can wait (a longer one would fire after 1 ms)', () => {
    expect(loadConfig({ env: { SSF_KAFKA_LINGER_MS: '2147483647' } }).kafka.lingerMs).toBe(2_147_483_647);
    expect(() => loadConfig({ env: { SSF_KAFKA_LINGER_MS: '2147483648' } })).toThrow(/kafka.lingerMs \(SSF_KAFKA_LINGER_MS\): at most 2147483647 ms/);
    expect(() => loadConfig({ env: { SSF_KAFKA_BUSY_LINGER_MS: '1e12' } })).toThrow(/kafka.busyLingerMs/);
    expect(() => loadConfig({ env: { SSF_MATERIALIZER_BATCH_MS: '3000000000' } })).toThrow(/materializer.batchMs/);
    expect(() => loadConfig({ env: { SSF_QUERY_MAX_EXECUTION_TIME_S: '2147484' } })).toThrow(/query.maxExecutionTimeS.*at most 2147483.647 s/);
    expect(() => loadConfig({ env: { SSF_GATEWAY_STREAM_IDLE_TIMEOUT_S: '1e9' } })).toThrow(/gateway.streamIdleTimeoutS/);
  });

  it('turns a duration in seconds into the whole milliseconds Node takes (a fraction of a ms kept the process from starting)', async () => {
    const c = loadConfig({ env: { SSF_GATEWAY_HTTP_REQUEST_TIMEOUT_S: '1.0005' } });
    expect(c.gateway.httpRequestTimeoutS).toBe(1.0005);
    const ms = secondsToMs(c.gateway.httpRequestTimeoutS);
    expect(Number.isInteger(ms) && Math.abs(ms - 1000.5) <= 0.5).toBe(true);
    expect(secondsToMs(0.0001)).toBe(1);
    const app = createHttpServer({ logLevel: false, bodyLimit: 1024, requestTimeoutMs: ms });
    await app.close();
  });

  it('reads a JSON file, lets the environment win, and refuses unknown keys in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssf-cfg-'));
    const file = join(dir, 'ssf.json');
    writeFileSync(file, JSON.stringify({ kafka: { brokers: ['a:1'], clientId: 'from-file' }, retention: { spansDays: 3 } }));
    const c = loadConfig({ env: { SSF_CONFIG_FILE: file, SSF_KAFKA_CLIENT_ID: 'from-env' } });
    expect(c.kafka.brokers).toEqual(['a:1']);
    expect(c.kafka.clientId).toBe('from-env');
    expect(c.retention.spansDays).toBe(3);
    writeFileSync(file, JSON.stringify({ kafka: { broker: 'a:1' } }));
    expect(() => loadConfig({ env: { SSF_CONFIG_FILE: file } })).toThrow(/unknown setting kafka.broker: did you mean kafka.brokers\?/);
  });

  it('documents every setting with its default (docs/configuration.md is generated and current)', () => {
    const docs = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    // The file is the generator's output as the formatter lays it out (`npm run docs:config` does both).
    const biome = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'biome');
    const formatted = execFileSync(biome, ['format', '--stdin-file-path=docs/configuration.md'], { input: renderConfigDocs(), encoding: 'utf8' });
    expect(docs).toBe(formatted);
    for (const s of listSettings()) {
      expect(s.description.length, s.path).toBeGreaterThan(10);
      expect(docs).toContain(`\`${s.env}\``);
    }
  });
});
