import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { udpReceiver, waitFor } from './helpers.js';

/*
 * The emitter ships alone (docs/emitter.md): `npm pack` of packages/emitter,
 * installed into an empty project, brings protobufjs and nothing of the
 * pipeline's server side, and an application importing it delivers SSF.
 */

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const SERVER_SIDE = ['chdb', 'kafkajs', 'fastify', '@clickhouse/client', 'zod'];

const work = mkdtempSync(join(tmpdir(), 'ssf-emitter-pkg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every package name under a node_modules tree, nested ones included. */
function installedPackages(nodeModules: string): Set<string> {
  const names = new Set<string>();
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@')) {
        for (const scoped of readdirSync(join(dir, entry.name), { withFileTypes: true })) {
          if (!scoped.isDirectory()) continue;
          names.add(`${entry.name}/${scoped.name}`);
          visit(join(dir, entry.name, scoped.name, 'node_modules'));
        }
      } else {
        names.add(entry.name);
        visit(join(dir, entry.name, 'node_modules'));
      }
    }
  };
  visit(nodeModules);
  return names;
}

describe('the emitter package', () => {
  it('packs, installs into an empty project with protobufjs only, type-checks and emits a span over UDP', { timeout: 240_000 }, async () => {
    // 1. Pack (prepack builds it from src/emitter and the codec's encode side).
    await run(NPM, ['pack', '--pack-destination', work, '--loglevel=error'], { cwd: join(ROOT, 'packages', 'emitter') });
    const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
    expect(tarballs).toHaveLength(1);
    const tarball = join(work, tarballs[0] as string);

    // 2. Install it into an empty project.
    const app = join(work, 'app');
    await run('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    await run(NPM, ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app });

    const installed = installedPackages(join(app, 'node_modules'));
    expect(installed.has('@ssf-pipeline/emitter')).toBe(true);
    expect(installed.has('protobufjs')).toBe(true);
    for (const name of SERVER_SIDE) expect(installed.has(name), `${name} must not be installed`).toBe(false);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', '@ssf-pipeline', 'emitter', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies)).toEqual(['protobufjs']);

    // 3. Its public types, as an application's TypeScript sees them.
    writeFileSync(
      join(app, 'check.ts'),
      `import { createEmitter } from '@ssf-pipeline/emitter';
       import type { EmitterStats, Span } from '@ssf-pipeline/emitter';
       const e = createEmitter({ service: 'typed' });
       const s: Span = e.startSpan('x', { tags: { a: 'b' } });
       s.finish();
       const stats: EmitterStats = e.stats();
       const sent: number = stats.sent;
       // @ts-expect-error tags are strings
       e.counter('c', 1, { tags: { n: 1 } });
       void sent;
       void e.close(100);
      `,
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', 'check.ts'],
      {
        cwd: app,
      },
    );

    // 4. An application that imports it delivers a span the pipeline's codec decodes.
    const rx = await udpReceiver();
    try {
      writeFileSync(
        join(app, 'main.js'),
        `import { createEmitter, silentLogger } from '@ssf-pipeline/emitter';
         const e = createEmitter({ address: process.env.TARGET, service: 'packed-app', logger: silentLogger });
         e.withSpan('GET /health', (span) => {
           span.setTag('region', 'eu');
           span.counter('health.checks', 2);
         });
         await e.close(2000);
         console.log(JSON.stringify(e.stats()));
        `,
      );
      const { stdout } = await run(process.execPath, ['main.js'], { cwd: app, env: { ...process.env, TARGET: rx.address }, timeout: 10_000 });
      expect(JSON.parse(stdout)).toMatchObject({ emitted: 2, sent: 2, queued: 0 });
      await waitFor(() => rx.spans.length === 1);
      expect(rx.spans[0]).toMatchObject({ name: 'GET /health', service: 'packed-app', isTrace: true, tags: { region: 'eu' } });
      expect(rx.spans[0]?.metrics).toEqual([expect.objectContaining({ type: 'counter', name: 'health.checks', value: 2 })]);
    } finally {
      await rx.close();
    }
  });
});
