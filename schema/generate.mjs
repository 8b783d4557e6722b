// Generates the protobufjs static code for schema/ssf.proto into
// src/codec/generated/ (ignored by git; `npm run build`, `npm test` and
// `npm run lint` run this first). With `--copy-to DIR`, copies the generated
// JavaScript next to the compiled output instead (tsc does not copy .js).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const proto = join(root, 'schema', 'ssf.proto');
const outDir = join(root, 'src', 'codec', 'generated');
const js = join(outDir, 'ssf.js');
const dts = join(outDir, 'ssf.d.ts');

const copyIndex = process.argv.indexOf('--copy-to');
if (copyIndex !== -1) {
  const target = join(root, process.argv[copyIndex + 1] ?? 'dist', 'src', 'codec', 'generated');
  mkdirSync(target, { recursive: true });
  copyFileSync(js, join(target, 'ssf.js'));
  copyFileSync(dts, join(target, 'ssf.d.ts'));
  process.exit(0);
}

function upToDate() {
  try {
    const source = Math.max(statSync(proto).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
    return statSync(js).mtimeMs >= source && statSync(dts).mtimeMs >= source;
  } catch {
    return false;
  }
}

if (!upToDate()) {
  mkdirSync(outDir, { recursive: true });
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--force-long', '--no-service', '--no-verify', '--no-typeurl', '-o', js, proto], {
    stdio: 'inherit',
  });
  // Node's ESM loader needs the file extension, and protobufjs is CommonJS:
  // take its module.exports as the default import.
  const code = readFileSync(js, 'utf8').replace('import * as $protobuf from "protobufjs/minimal";', 'import $protobuf from "protobufjs/minimal.js";');
  writeFileSync(js, code);
  execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
  // Type 64-bit fields as protobufjs's own {low, high, unsigned} interface:
  // the codec converts them to bigint and never needs the Long class.
  writeFileSync(dts, readFileSync(dts, 'utf8').replace('import Long = require("long");', 'type Long = $protobuf.Long;'));
}
