// The demo's seeded PRNG (mulberry32): deterministic test and benchmark data.
export { seededRandom } from '../../cli/demo/seeded-random.js';
