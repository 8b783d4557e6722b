import type { ClickHouse } from './create-client.js';

/** How long a readiness probe waits for ClickHouse to answer. */
export const PROBE_DEADLINE_MS = 2_000;

/**
 * Readiness: does ClickHouse run a statement for this client now, within a
 * short deadline? `SELECT 1` rather than /ping: it goes through the same
 * query path (users, pool, engine threads) as real work does.
 */
export async function probeClickHouse(ch: ClickHouse, deadlineMs = PROBE_DEADLINE_MS): Promise<{ ok: boolean; detail: string }> {
  const started = performance.now();
  try {
    const result = await ch.client.query({ query: 'SELECT 1', format: 'TabSeparated', abort_signal: AbortSignal.timeout(deadlineMs) });
    const text = (await result.text()).trim();
    if (text !== '1') return { ok: false, detail: `SELECT 1 answered ${JSON.stringify(text.slice(0, 100))}` };
    return { ok: true, detail: `answered in ${Math.round(performance.now() - started)} ms` };
  } catch (err) {
    return { ok: false, detail: `no answer within ${deadlineMs} ms: ${err instanceof Error ? err.message : String(err)}` };
  }
}
