import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The house drawn from its imports (docs/architecture.md, "Layout"): the core
 * (`src/`) at the bottom imports nothing above it; the parts of the product
 * (`ingest/`, `query/`) stand on it and not on each other; the `ssf` command
 * (`cli/`) is on top; the development launchers (`deploy/local/`) are never
 * imported by production code. And no two files import each other, directly
 * or around a circle.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const FLOORS = ['src', 'ingest', 'query', 'cli', 'deploy/local'] as const;
type Floor = (typeof FLOORS)[number];

/** What each floor may import, besides itself. */
const MAY_IMPORT: Record<Floor, readonly Floor[]> = {
  src: [],
  ingest: ['src'],
  query: ['src'],
  cli: ['src', 'ingest', 'query'],
  'deploy/local': ['src'],
};

function floorOf(file: string): Floor | undefined {
  return FLOORS.find((f) => file === f || file.startsWith(`${f}/`));
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'generated' && entry.name !== 'node_modules') out.push(...sources(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Relative imports of a file (static, dynamic, type-only and worker URLs alike), as repository paths of .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const spec = m[1] as string;
    found.push(normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return found;
}

const files = FLOORS.flatMap((f) => sources(f));
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.endsWith('.ts'))]));

describe('the house drawn from its imports', () => {
  it('reads the source tree', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get('cli/main.ts')?.length).toBeGreaterThan(0);
  });

  it('imports only from the same floor or the floors below', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = floorOf(file) as Floor;
      for (const target of targets) {
        const to = floorOf(target);
        if (to === undefined) {
          if (!target.startsWith('node_modules')) wrong.push(`${file} -> ${target} (outside the product's floors)`);
          continue;
        }
        if (to !== from && !MAY_IMPORT[from].includes(to)) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no circle of files', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (!graph.has(next)) continue;
        const s = state.get(next);
        if (s === 'open') circles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative('.', f)).join(' -> '));
        else if (s === undefined) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(circles).toEqual([]);
  });
});
