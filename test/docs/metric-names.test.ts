import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../ingest/gateway/gateway-metrics.js';
import { MaterializerMetrics } from '../../ingest/materializer/materializer-metrics.js';
import { OtlpMetrics } from '../../ingest/otlp/otlp-metrics.js';
import { QueryMetrics } from '../../query/query-metrics.js';
import { processMetrics } from '../../src/observability/process-metrics.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');

/** Every markdown page of docs/, one folder deep (docs/query/). */
function docsText(): string {
  const pages: string[] = [];
  for (const entry of readdirSync(DOCS, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.md')) pages.push(join(DOCS, entry.name));
    if (entry.isDirectory()) {
      for (const name of readdirSync(join(DOCS, entry.name))) if (name.endsWith('.md')) pages.push(join(DOCS, entry.name, name));
    }
  }
  return pages.map((p) => readFileSync(p, 'utf8')).join('\n');
}

/** The names every /metrics of the product exposes, as its registries render them (`# TYPE <name> <kind>`). */
function registeredMetrics(): Map<string, string> {
  const gateway = new GatewayMetrics();
  new OtlpMetrics(gateway.registry);
  const text = [gateway.registry.render(), new MaterializerMetrics().registry.render(), new QueryMetrics().registry.render(), processMetrics().render()].join(
    '\n',
  );
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

const docs = docsText();
const metrics = registeredMetrics();

describe('metric names in docs/', () => {
  it('reads the registries', () => {
    expect(metrics.size).toBeGreaterThan(40);
  });

  it.each([...metrics.keys()])('documents %s', (name) => {
    expect(docs, `${name} is registered but named in no page of docs/`).toMatch(new RegExp(`\\b${name}\\b`));
  });

  it('names no metric that no registry has', () => {
    // A histogram's series carry the suffixes Prometheus gives them.
    const known = new Set([...metrics].flatMap(([name, kind]) => (kind === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
    const named = new Set([...docs.matchAll(/\bssf_(?:gateway|materializer|query)_[a-z0-9_]+/g)].map((m) => m[0]));
    expect([...named].filter((n) => !known.has(n))).toEqual([]);
  });
});
