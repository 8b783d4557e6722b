import { getRandomValues } from 'node:crypto';

// Ids come from a pool of random bytes refilled 1024 at a time: one
// getRandomValues call per 1024 spans instead of one per span.
const pool = new BigUint64Array(1024);
let next = pool.length;

/**
 * A random, non-zero, positive 63-bit id (like Veneur's trace client, which
 * uses rand.Int63): positive ids read the same in SQL, Go and hex.
 */
export function newId(): bigint {
  for (;;) {
    if (next === pool.length) {
      getRandomValues(pool);
      next = 0;
    }
    const id = (pool[next++] as bigint) >> 1n;
    if (id !== 0n) return id;
  }
}
