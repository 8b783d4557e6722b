import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodecErrorCodes } from '../../src/codec/errors.js';
import { ConfigError } from '../../src/config/load-config.js';
import { DROP_REASONS } from '../../src/emitter/transports/transport.js';

const docs = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');

describe('docs/errors.md', () => {
  it.each(Object.keys(CodecErrorCodes))('documents %s', (code) => {
    expect(docs).toContain(`| \`${code}\` |`);
  });

  it('documents the configuration error', () => {
    expect(docs).toContain(`| \`${new ConfigError('x').code}\` |`);
  });

  it.each([...DROP_REASONS])('documents the emitter drop reason %s', (reason) => {
    expect(docs).toContain(`| \`${reason}\` |`);
  });
});
