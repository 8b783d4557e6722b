/**
 * `ssf logs | head`: the reader closes the pipe after a few lines, as head
 * does. The command stops quietly, as Unix tools do; it used to die of an
 * unhandled EPIPE with a Node stack trace on the terminal.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEvent } from '../../src/codec/span-event.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

let aio: AllInOne;
const LINES = 1000;

beforeAll(async () => {
  aio = await startAllInOne('cli_closed_pipe');
  const now = BigInt(Date.now()) * 1_000_000n;
  const logs = Array.from({ length: LINES }, (_, i) => ({
    timestamp: now - BigInt(LINES - i) * 1_000_000n,
    severity: 'info' as const,
    severityNumber: 9,
    body: `line ${i} of a long answer ${'x'.repeat(200)}`,
    attributes: {},
  }));
  const r = await aio.post([spanEvent({ service: 'pipe', isTrace: false, logs })]);
  expect(r.status).toBe(200);
}, 180_000);

afterAll(async () => {
  await aio?.close();
});

describe('ssf with its output piped to a reader that stops early', () => {
  it('ends quietly, exit code 0, when the pipe closes (ssf logs | head -1)', async () => {
    const main = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');
    const child = spawn(process.execPath, [...TSX_IMPORT, main, 'logs', '--since', '1h', '--limit', String(LINES), '--address', aio.http], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    // head -1: read the first chunk, then close the pipe.
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(first).toContain('line 0 of a long answer');
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });
});
