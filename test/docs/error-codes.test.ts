import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodecErrorCodes } from '../../src/codec/errors.js';
import { ConfigError } from '../../src/config/load-config.js';
import { DROP_REASONS } from '../../src/emitter/transports/transport.js';

const root = join(import.meta.dirname, '..', '..');
const docs = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
/** A table row of the code (the formatter pads the cells). */
const row = (code: string): RegExp => new RegExp(`\\|\\s*\`${code}\`\\s*\\|`);

/** Every `AREA_ERR_*` code written as a string literal anywhere in the source. */
function catalogCodes(): string[] {
  const codes = new Set<string>();
  for (const dir of ['src', 'ingest', 'query', 'cli', 'deploy']) {
    if (!existsSync(join(root, dir))) continue;
    for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      for (const m of readFileSync(join(root, dir, file), 'utf8').matchAll(/'([A-Z]+_ERR_[A-Z0-9_]+)'/g)) codes.add(m[1] as string);
    }
  }
  return [...codes].sort();
}

describe('docs/errors.md', () => {
  it.each(Object.keys(CodecErrorCodes))('documents %s', (code) => {
    expect(docs).toMatch(row(code));
  });

  it('finds the catalogs in the source', () => {
    expect(catalogCodes().length).toBeGreaterThan(10);
  });

  it.each(catalogCodes())('documents %s', (code) => {
    expect(docs).toMatch(row(code));
  });

  it('documents the configuration error', () => {
    expect(docs).toMatch(row(new ConfigError('x').code));
  });

  it.each([...DROP_REASONS])('documents the emitter drop reason %s', (reason) => {
    expect(docs).toMatch(row(reason));
  });
});
