import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import type { InsertedEvent } from '../../../ingest/materializer/materializer.js';
import { createClickHouse } from '../../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { clickhouseUrl, kafkaBrokers, uniqueDatabase } from '../../setup/services.js';
import { freshTopic } from '../kafka-reader.js';
import { connectProducer, counts, emptyExpected, exactCounts, produceEvents, settle, waitFor } from './helpers.js';
import { TSX_IMPORT } from '../../setup/tsx-import.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const CHILD = join(import.meta.dirname, 'materializer-child.ts');

interface Child {
  name: string;
  proc: ChildProcess;
  inserts: InsertedEvent[];
  log: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: Child[] = [];

/** `node --import tsx materializer-child.ts` with these settings (and no SSF_* of the parent). */
function spawnChild(name: string, env: Record<string, string>): Child {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSF_') && k !== 'NODE_OPTIONS'));
  const proc = spawn(process.execPath, [...TSX_IMPORT, CHILD], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { name, proc, inserts: [], log: [], exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))) };
  let buffered = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('inserted ')) child.inserts.push(JSON.parse(line.slice(9)) as InsertedEvent);
      else child.log.push(line);
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => child.log.push(...chunk.trimEnd().split('\n')));
  children.push(child);
  return child;
}

function describeChildren(): string {
  return children
    .map((c) => `--- ${c.name}: ${c.inserts.length} inserts (${c.inserts.filter((e) => e.replay).length} replays)\n${c.log.slice(-25).join('\n')}`)
    .join('\n');
}

describe('materializer as a separate process: SIGKILL mid-stream and restart', () => {
  const expected = emptyExpected();
  let producer: Producer;
  let ch: ClickHouse;
  let env: Record<string, string>;
  let topic: string;

  beforeAll(async () => {
    topic = await freshTopic(kafkaBrokers(), 'mat-kill', 3);
    env = {
      SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      SSF_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
      SSF_KAFKA_CONSUMER_GROUP: `mat-${topic}`,
      SSF_KAFKA_PARTITIONS: '1',
      SSF_CLICKHOUSE_URL: clickhouseUrl(),
      SSF_CLICKHOUSE_DATABASE: uniqueDatabase('mat_kill'),
      SSF_MATERIALIZER_METRICS_LISTEN: '127.0.0.1:0',
      SSF_LOG_LEVEL: 'info',
    };
    producer = await connectProducer(kafkaBrokers());
    ch = await createClickHouse(loadConfig({ env }).clickhouse);
  });

  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await producer?.disconnect();
    await ch?.close();
  });

  it('writes every row exactly once across a kill between insert and commit, a kill at a random point, and a rebalance', async () => {
    try {
      await produceEvents(producer, topic, 0, 1_500, expected);

      // A dies right after ClickHouse acknowledged its 4th batch, before the commit.
      const a = spawnChild('A', { ...env, SSF_MATERIALIZER_BATCH_ROWS: '97', SSF_MATERIALIZER_BATCH_MS: '100', MAT_CHILD_KILL_AFTER_INSERTS: '4' });
      expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const killed = a.inserts.at(-1);
      expect(a.inserts).toHaveLength(4);

      await produceEvents(producer, topic, 1_500, 3_000, expected);

      // B cuts batches differently (131 rows), so only the intent makes its first batch match A's last one.
      const b = spawnChild('B', { ...env, SSF_MATERIALIZER_BATCH_ROWS: '131', SSF_MATERIALIZER_BATCH_MS: '150' });
      const producing = (async () => {
        for (let i = 3_000; i < 4_000; i += 100) {
          await produceEvents(producer, topic, i, i + 100, expected);
          await sleep(150);
        }
      })();
      await waitFor('B to replay the batch A inserted but did not commit', () => b.inserts.some((e) => e.replay && e.token === killed?.token), 60_000);
      await waitFor('B to insert new batches', () => b.inserts.filter((e) => !e.replay).length >= 8, 60_000);
      // Then killed at whatever point it is.
      await sleep(Math.random() * 300);
      b.proc.kill('SIGKILL');
      expect((await b.exited).signal).toBe('SIGKILL');

      // Two members share the partitions (and rebalance as the second joins).
      const c = spawnChild('C', { ...env, SSF_MATERIALIZER_BATCH_ROWS: '50', SSF_MATERIALIZER_BATCH_MS: '100' });
      const d = spawnChild('D', { ...env, SSF_MATERIALIZER_BATCH_ROWS: '200', SSF_MATERIALIZER_BATCH_MS: '300' });
      await producing;
      expect(expected).toEqual({ spans: 2_000, logs: 3_000, samples: 4_000, hits: 2_000 });

      const got = await settle(ch, expected, 90_000, 2_000);
      expect(got).toEqual(exactCounts(expected));
      expect(c.inserts.length + d.inserts.length).toBeGreaterThan(0);

      // A clean stop (SIGTERM) leaves nothing behind and adds nothing.
      c.proc.kill('SIGTERM');
      d.proc.kill('SIGTERM');
      expect((await c.exited).code).toBe(0);
      expect((await d.exited).code).toBe(0);
      expect(await counts(ch)).toEqual(exactCounts(expected));
      process.stderr.write(
        `[crash-restart] ${children.map((x) => `${x.name}: ${x.inserts.length} inserts, ${x.inserts.filter((e) => e.replay).length} replays`).join('; ')}\n`,
      );
    } catch (err) {
      process.stderr.write(`${describeChildren()}\n`);
      throw err;
    }
  }, 170_000);
});
