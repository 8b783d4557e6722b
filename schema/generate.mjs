// Generates the protobufjs static code of our .proto files (ignored by git;
// `npm run build`, `npm test` and `npm run lint` run this first):
// schema/ssf.proto into src/codec/generated/, schema/otlp/otlp.proto into
// ingest/otlp/generated/. With `--copy-to DIR`, copies the generated
// JavaScript next to the compiled output instead (tsc does not copy .js).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const targets = [
  // maps: the map<> fields' entry assignments in the generated code (decode, fromObject, toObject), each rewritten below.
  { proto: join('schema', 'ssf.proto'), dir: join('src', 'codec', 'generated'), name: 'ssf', maps: 9 },
  { proto: join('schema', 'otlp', 'otlp.proto'), dir: join('ingest', 'otlp', 'generated'), name: 'otlp', maps: 0 },
];

const copyIndex = process.argv.indexOf('--copy-to');
if (copyIndex !== -1) {
  for (const t of targets) {
    const target = join(root, process.argv[copyIndex + 1] ?? 'dist', t.dir);
    mkdirSync(target, { recursive: true });
    copyFileSync(join(root, t.dir, `${t.name}.js`), join(target, `${t.name}.js`));
    copyFileSync(join(root, t.dir, `${t.name}.d.ts`), join(target, `${t.name}.d.ts`));
  }
  process.exit(0);
}

function upToDate(proto, js, dts) {
  try {
    const source = Math.max(statSync(proto).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
    return statSync(js).mtimeMs >= source && statSync(dts).mtimeMs >= source;
  } catch {
    return false;
  }
}

for (const t of targets) {
  const proto = join(root, t.proto);
  const outDir = join(root, t.dir);
  const js = join(outDir, `${t.name}.js`);
  const dts = join(outDir, `${t.name}.d.ts`);
  if (upToDate(proto, js, dts)) continue;
  mkdirSync(outDir, { recursive: true });
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--force-long', '--no-service', '--no-verify', '--no-typeurl', '-o', js, proto], {
    stdio: 'inherit',
  });
  // Node's ESM loader needs the file extension, and protobufjs is CommonJS:
  // take its module.exports as the default import.
  let code = readFileSync(js, 'utf8').replace('import * as $protobuf from "protobufjs/minimal";', 'import $protobuf from "protobufjs/minimal.js";');
  // A map<string, string> entry is set with the codec's setTag, not by assignment: an
  // assignment to "__proto__" would drop the entry (src/codec/tag-map.ts).
  const mapEntry = /\b(message|object)\.(\w+)\[(key|keys\[i\]|keys2\[j\])\] = (.+);$/gm;
  const entries = code.match(mapEntry)?.length ?? 0;
  if (t.maps !== entries) throw new Error(`${t.proto}: expected ${t.maps} map entry assignments in the generated code, found ${entries}`);
  if (entries > 0) {
    code = code.replace(mapEntry, '$setTag($1.$2, $3, $4);');
    code = code.replace(
      'import $protobuf from "protobufjs/minimal.js";',
      'import $protobuf from "protobufjs/minimal.js";\nimport { setTag as $setTag } from "../tag-map.js";',
    );
  }
  writeFileSync(js, code);
  execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
  // Type 64-bit fields as protobufjs's own {low, high, unsigned} interface:
  // the codec converts them to bigint and never needs the Long class.
  writeFileSync(dts, readFileSync(dts, 'utf8').replace('import Long = require("long");', 'type Long = $protobuf.Long;'));
}
