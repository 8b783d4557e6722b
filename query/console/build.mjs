// Bundles the web console (query/console/app) into dist/console with esbuild:
// hashed script and style files, an index.html naming them, and a .gz of
// each beside it (the query API sends those to browsers that take gzip).
// Run by `npm run build`; `node query/console/build.mjs [outDir]`.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const outDir = resolve(process.argv[2] ?? join(root, 'dist/console'));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(join(outDir, 'assets'), { recursive: true });
const result = await build({
  entryPoints: [join(here, 'app/main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(outDir, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => resolve(root, p));
const script = outputs.find((p) => p.endsWith('.js'));
const style = outputs.find((p) => p.endsWith('.css'));
if (!script || !style) throw new Error('console build: no script or style produced');
const html = readFileSync(join(here, 'app/index.html'), 'utf8')
  .replace('{{script}}', `/assets/${basename(script)}`)
  .replace('{{style}}', `/assets/${basename(style)}`);
writeFileSync(join(outDir, 'index.html'), html);
for (const file of [...outputs, join(outDir, 'index.html')]) writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
const gz = gzipSync(readFileSync(script), { level: 9 }).length;
console.log(`console: ${basename(script)} ${(readFileSync(script).length / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzip) -> ${outDir}`);
