// `npm run bench`: every benchmark, each printing its figures as ratios
// against a baseline measured in the same run. Never assertions on time.
import { emitterBench } from './emitter-bench.js';
import { gatewayBench } from './gateway-bench.js';
import { materializerBench } from './materializer-bench.js';
import { otlpBench } from './otlp-bench.js';
import { queryBench } from './query-bench.js';
import { storageBench } from './storage-bench.js';

const benches: Record<string, () => Promise<void>> = {
  emitter: emitterBench,
  gateway: gatewayBench,
  materializer: materializerBench,
  storage: storageBench,
  query: queryBench,
  otlp: otlpBench,
};

const only = process.argv.slice(2);
console.log(`# ssf-pipeline benchmarks (node ${process.version}, ${new Date().toISOString()})`);
for (const [name, bench] of Object.entries(benches)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await bench();
}
