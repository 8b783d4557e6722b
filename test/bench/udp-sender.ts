import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { splitHostPort } from '../../src/http/listen-address.js';
import { buildCProgram } from '../../deploy/local/clickhouse-server.js';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..', '..');

let built: Promise<string> | undefined;

/** test/bench/native/udp-sender.c, built once into .cache/bench. */
function sender(): Promise<string> {
  built ??= buildCProgram(join(repo, 'test', 'bench', 'native', 'udp-sender.c'), join(repo, '.cache', 'bench', 'udp-sender'));
  return built;
}

/**
 * Sends `datagrams` round robin to `address` at `rate` per second for
 * `seconds` (or until `most` are sent), from a native sender (sendmmsg,
 * paced every 0.2 ms) in its own process; resolves with the number sent.
 */
export async function sendUdpAtRate(address: string, datagrams: readonly Buffer[], rate: number, seconds: number, most?: number): Promise<number> {
  const binary = await sender();
  const dir = mkdtempSync(join(tmpdir(), 'ssf-udp-'));
  try {
    const file = join(dir, 'datagrams');
    writeFileSync(
      file,
      Buffer.concat(
        datagrams.flatMap((d) => {
          const len = Buffer.alloc(4);
          len.writeUInt32LE(d.length);
          return [len, d];
        }),
      ),
    );
    const { host, port } = splitHostPort(address);
    const { stdout } = await run(binary, [host, String(port), String(rate), String(seconds), file, ...(most === undefined ? [] : [String(most)])]);
    return Number(stdout.trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sends `total` datagrams as fast as the socket takes them (the native sender); how many and how long. */
export async function blastUdp(address: string, datagrams: readonly Buffer[], total: number): Promise<{ sent: number; seconds: number }> {
  const started = process.hrtime.bigint();
  const sent = await sendUdpAtRate(address, datagrams, 100_000_000, 60, total);
  return { sent, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
