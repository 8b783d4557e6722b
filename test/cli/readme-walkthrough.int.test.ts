import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net/free-port.js';
import { runCli } from './run-cli.js';
import { TSX_IMPORT } from '../setup/tsx-import.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'cli', 'main.ts');

interface Step {
  /** The command line as written in the README. */
  line: string;
  argv: string[];
  /** The strings the README's comment quotes: the command must print each. */
  expects: string[];
}

/** A command line split as sh would split it (words, '...' and "..." quotes), and its `# comment`. */
function shellWords(line: string): { words: string[]; comment: string } {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end === -1) throw new Error(`unclosed ${c} in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      return { words, comment: line.slice(i + 1).trim() };
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return { words, comment: '' };
}

/** The commands of the README's fenced block ```sh <tag>. */
async function readmeSteps(tag: string): Promise<Step[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Your first minute'));
  const block = new RegExp(`\`\`\`sh ${tag}\\n([\\s\\S]*?)\`\`\``).exec(section)?.[1];
  if (!block) throw new Error(`README.md has no \`\`\`sh ${tag} block in "Your first minute"`);
  return block
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const { words, comment } = shellWords(line);
      // `npx ssf` is the built package's bin (what `npm start` builds); here the same CLI runs from the sources.
      expect(words.slice(0, 2), line).toEqual(['npx', 'ssf']);
      return { line, argv: words.slice(2), expects: [...comment.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string) };
    });
}

let dir = '';
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('README: your first minute', () => {
  it('says to run npm start, which runs ssf serve', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Your first minute'), readme.indexOf('## Distributed mode'));
    expect(section).toContain('```sh\nnpm start\n```');
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts['start']).toMatch(/node --max-semi-space-size=4 dist\/cli\/main\.js serve$/);
    expect(pkg.bin['ssf']).toBe('./dist/cli/main.js');
  });

  it('works as written: every command exits 0 and prints what the README says', async () => {
    const running = await readmeSteps('walkthrough');
    expect(running.map((s) => s.argv[0])).toEqual(['demo', 'trace', 'logs', 'top', 'sql', 'analytics']);

    // `npm start` is `ssf serve` on the embedded engine; here in a temporary data directory, on a free port.
    dir = await mkdtemp(join(tmpdir(), 'ssf-readme-'));
    const port = await freePort();
    const serveEnv: NodeJS.ProcessEnv = {
      ...process.env,
      SSF_CLICKHOUSE_DATA_PATH: join(dir, 'clickhouse'),
      SSF_GATEWAY_HTTP_LISTEN: `127.0.0.1:${port}`,
      SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
    };
    delete serveEnv['SSF_CLICKHOUSE_URL'];
    delete serveEnv['SSF_ADDRESS'];
    const serve = spawn(process.execPath, [...TSX_IMPORT, MAIN, 'serve'], { cwd: ROOT, env: serveEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let serveOut = '';
    serve.stdout.on('data', (c: Buffer) => (serveOut += c.toString()));
    serve.stderr.on('data', (c: Buffer) => (serveOut += c.toString()));
    const serveExit = new Promise<number | null>((resolve) => serve.on('exit', (code) => resolve(code)));
    try {
      const until = Date.now() + 90_000;
      while (!serveOut.includes('ssf serve: the pipeline is running')) {
        if (Date.now() > until || serve.exitCode !== null) throw new Error(`ssf serve did not start:\n${serveOut}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const http = /POST (http:\/\/\S+)\/v1\/ssf/.exec(serveOut)?.[1];
      expect(http).toBe(`http://127.0.0.1:${port}`);
      // The README's commands use the default address (ssf serve's 127.0.0.1:8127); this one is on a free port.
      const env = { SSF_ADDRESS: http as string, SSF_CLICKHOUSE_DATA_PATH: join(dir, 'clickhouse') };

      let traceId: string | undefined;
      for (const step of running) {
        // The README's literal default address is this run's free port.
        const argv = (step.argv[0] === 'trace' ? ['trace', traceId as string, ...step.argv.slice(2)] : step.argv).map((a) =>
          a === 'http://127.0.0.1:8127' ? (http as string) : a,
        );
        const r = await runCli(argv, env, 120_000);
        expect(r.code, `${step.line}\n${r.stdout}\n${r.stderr}`).toBe(0);
        for (const text of step.expects) expect(r.stdout, step.line).toContain(text);
        if (step.argv[0] === 'analytics') {
          // The demo's six services are in the report.
          for (const service of ['web', 'api', 'auth', 'cache', 'db', 'payments']) expect(r.stdout).toMatch(new RegExp(`^${service} `, 'm'));
        }
        if (step.argv[0] === 'demo') {
          traceId = /^ {2}ssf trace ([0-9a-f]{16})$/m.exec(r.stdout)?.[1];
          expect(traceId, r.stdout).toBeDefined();
          expect(r.stdout).toMatch(/ 0 dropped/);
        }
      }

      serve.kill('SIGINT');
      expect(await serveExit).toBe(0);
    } finally {
      if (serve.exitCode === null) {
        serve.kill('SIGINT');
        await serveExit;
      }
    }
  }, 300_000);
});
