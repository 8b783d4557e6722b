import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listSettings } from '../../src/config/load-config.js';
import { nodeFlagsOf } from '../bench/process-stats.js';

/**
 * What cannot run on these machines (no Docker engine, no Kubernetes) is
 * checked statically: every SSF_* name the compose file and the Helm chart
 * set exists in the config schema, every command they run is an `ssf`
 * subcommand, the image is non-root with health checks, and the chart
 * passes `helm lint` and renders (`helm template`) with helm v4 built from
 * the Go module proxy (deploy/helm/ensure-helm.sh, cached in the user cache, ~/.cache/ssf-pipeline/helm).
 */

const root = join(import.meta.dirname, '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');
const envNames = new Set(listSettings().map((s) => s.env));
/** The V8 flags every ssf process runs with: cli/main.ts's first line says them; the image and `npm start` repeat them. */
const NODE_FLAGS = nodeFlagsOf(join(root, 'cli', 'main.ts')).join(' ');

/** The subcommands of `ssf`: the commands listed in cli/main.ts, each loaded and its name checked against its key. */
async function ssfSubcommands(): Promise<Set<string>> {
  const main = read('cli/main.ts');
  const entries = [...main.matchAll(/^\s*'?([\w-]+)'?: async \(\) => \(await import\('([^']+)'\)\)\.(\w+),$/gm)];
  expect(entries.length, 'commands listed in cli/main.ts').toBeGreaterThan(0);
  const names = new Set<string>();
  for (const [, key, from, ident] of entries) {
    const mod = (await import(join(root, 'cli', (from as string).replace(/\.js$/, '.ts')))) as Record<string, { name: string }>;
    expect(mod[ident as string]?.name, `the command ${ident} in cli/main.ts`).toBe(key);
    names.add(key as string);
  }
  return names;
}

function ssfVariables(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(SSF_[A-Z0-9_]+)\b/g)].map((m) => m[1] as string))];
}

function chartFiles(): string[] {
  const dir = 'deploy/helm/ssf';
  return ['values.yaml', ...readdirSync(join(root, dir, 'templates')).map((f) => `templates/${f}`)].map((f) => `${dir}/${f}`);
}

describe('deployment files', () => {
  it('set only SSF_* variables that the config schema has', () => {
    for (const file of ['deploy/compose/compose.yaml', ...chartFiles()]) {
      for (const name of ssfVariables(read(file))) expect(envNames.has(name), `${name} in ${file}`).toBe(true);
    }
    // And the files do configure the pipeline through them.
    expect(ssfVariables(read('deploy/compose/compose.yaml')).length).toBeGreaterThan(5);
    expect(ssfVariables(read('deploy/helm/ssf/values.yaml')).length).toBeGreaterThan(5);
  });

  it('run only real ssf subcommands', async () => {
    const known = await ssfSubcommands();
    expect(known.has('gateway')).toBe(true);
    const compose = read('deploy/compose/compose.yaml');
    const composeCommands = [...compose.matchAll(/command: \["([^"]+)"/g)].map((m) => m[1] as string);
    const values = read('deploy/helm/ssf/values.yaml');
    const chartCommands = [...values.matchAll(/^\s+command: ([\w-]+)$/gm)].map((m) => m[1] as string);
    const job = [...read('deploy/helm/ssf/templates/migrate-job.yaml').matchAll(/args: \["([^"]+)"\]/g)].map((m) => m[1] as string);
    expect(composeCommands.length).toBeGreaterThanOrEqual(4);
    expect(chartCommands.sort()).toEqual(['gateway', 'materializer', 'query-api']);
    for (const c of [...composeCommands, ...chartCommands, ...job]) expect(known.has(c), `ssf ${c}`).toBe(true);
  });

  it('start every ssf process with the same V8 flags: the bin, the image, npm start and the gateway bench', () => {
    expect(NODE_FLAGS).toBe('--max-semi-space-size=4');
    expect(read('deploy/Dockerfile')).toContain(`ENTRYPOINT ["node", "${NODE_FLAGS}", "dist/cli/main.js"]`);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start']).toContain(`node ${NODE_FLAGS} dist/cli/main.js serve`);
    expect(read('test/bench/gateway-bench.ts')).toContain('nodeFlagsOf(main)');
  });

  it('build one multi-stage, non-root image with health checks', () => {
    const dockerfile = read('deploy/Dockerfile');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER 10001$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/-\/healthy/m);
    expect(dockerfile).toContain(`ENTRYPOINT ["node", "${NODE_FLAGS}", "dist/cli/main.js"]`);
    const templates = read('deploy/helm/ssf/templates/roles.yaml');
    expect(templates).toContain('path: /-/healthy');
    expect(templates).toContain('path: /-/ready');
  });

  it('chart passes helm lint and renders a Deployment, Service and PDB per role', { timeout: 900_000 }, () => {
    const helm = execFileSync('bash', [join(root, 'deploy/helm/ensure-helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const chart = join(root, 'deploy/helm/ssf');
    const lint = execFileSync(helm, ['lint', '--strict', chart], { encoding: 'utf8' });
    expect(lint).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const rendered = execFileSync(helm, ['template', 'obs', chart], { encoding: 'utf8' });
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget']) {
      expect(rendered.match(new RegExp(`^kind: ${kind}$`, 'gm'))?.length, kind).toBe(3);
    }
    expect(rendered).toMatch(/^kind: Job$/m);
    for (const name of ssfVariables(rendered)) expect(envNames.has(name), `${name} rendered by helm template`).toBe(true);
  });
});
