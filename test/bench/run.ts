// `npm run bench`: every benchmark, each printing its figures as ratios
// against a baseline measured in the same run. Never assertions on time.
import { cpus, loadavg } from 'node:os';
import { clusterBench } from './cluster-bench.js';
import { consoleBench } from './console-bench.js';
import { emitterBench } from './emitter-bench.js';
import { gatewayBench } from './gateway-bench.js';
import { materializerBench } from './materializer-bench.js';
import { otlpBench } from './otlp-bench.js';
import { queryBench } from './query-bench.js';
import { storageBench } from './storage-bench.js';
import { beginBench, recordedFigures } from './measure.js';

const benches: Record<string, () => Promise<void>> = {
  emitter: emitterBench,
  gateway: gatewayBench,
  materializer: materializerBench,
  storage: storageBench,
  query: queryBench,
  console: consoleBench,
  cluster: clusterBench,
  otlp: otlpBench,
};

// `--json`: the tables still go to stderr for people; stdout gets one JSON
// document with every figure (baselines in the same tables), for scripts.
const args = process.argv.slice(2);
const json = args.includes('--json');
const only = args.filter((a) => a !== '--json');
const started = new Date().toISOString();
if (json) console.log = (...parts: unknown[]) => console.error(...parts);
console.log(`# ssf-pipeline benchmarks (node ${process.version}, ${started})`);
const ran: string[] = [];
for (const [name, bench] of Object.entries(benches)) {
  if (only.length > 0 && !only.includes(name)) continue;
  beginBench(name);
  ran.push(name);
  await bench();
}
if (json) {
  const { tables, notes } = recordedFigures();
  const document = {
    node: process.version,
    started,
    finished: new Date().toISOString(),
    loadAverage: loadavg(),
    cpus: cpus().length,
    benches: ran,
    tables,
    notes,
  };
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}
