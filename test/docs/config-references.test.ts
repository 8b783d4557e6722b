import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listSettings } from '../../src/config/load-config.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** README.md and every markdown page of docs/, one folder deep, by path from the repository root. */
function pages(): Map<string, string> {
  const paths = ['README.md'];
  for (const entry of readdirSync(join(ROOT, 'docs'), { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.md')) paths.push(join('docs', entry.name));
    if (entry.isDirectory()) {
      for (const name of readdirSync(join(ROOT, 'docs', entry.name))) if (name.endsWith('.md')) paths.push(join('docs', entry.name, name));
    }
  }
  return new Map(paths.map((p) => [p, readFileSync(join(ROOT, p), 'utf8')]));
}

const settings = listSettings();
const sections = [...new Set(settings.map((s) => s.path.split('.')[0] ?? ''))];

describe('settings named in the docs', () => {
  it('reads the schema', () => {
    expect(settings.length).toBeGreaterThan(50);
  });

  // docs/configuration.md is generated from the schema (test/config); the other pages name settings by hand.
  it('names only settings the schema has', () => {
    const known = new Set(settings.map((s) => s.path));
    const setting = new RegExp(`\`((?:${sections.join('|')})\\.[A-Za-z0-9]+)(?:=[^\`]*)?\``, 'g');
    const unknown: string[] = [];
    for (const [path, text] of pages()) {
      for (const m of text.matchAll(setting)) {
        const name = m[1] ?? '';
        // File names (`materializer.ts`) share the shape.
        if (/\.(ts|js|mjs|md|sql|json|yaml)$/.test(name)) continue;
        if (!known.has(name)) unknown.push(`${path}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
