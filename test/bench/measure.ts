/** Small helpers shared by the benchmarks: timing, and printing ratios against a baseline. */

export interface Measurement {
  name: string;
  nsPerOp: number;
  ops: number;
}

/** Runs `fn(n)` (which must do n operations) until at least `minMs` have passed; the best of `rounds`. */
export function measureSync(name: string, fn: (n: number) => void, n: number, rounds = 5): Measurement {
  fn(Math.min(n, 10_000)); // warm-up
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    const ns = Number(process.hrtime.bigint() - t0);
    best = Math.min(best, ns / n);
  }
  return { name, nsPerOp: best, ops: n };
}

export function formatNs(ns: number): string {
  return ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`;
}

/** One printed table, for `npm run bench -- --json`: the figures as numbers where they are numbers. */
export interface RecordedTable {
  bench: string;
  title: string;
  rows: Array<Record<string, string | number>>;
}

const recorded: { tables: RecordedTable[]; notes: Array<{ bench: string; text: string }> } = { tables: [], notes: [] };
let currentBench = '';

/** Names the bench whose tables and notes follow (run.ts). */
export function beginBench(name: string): void {
  currentBench = name;
}

/** Everything printed so far, as data. */
export function recordedFigures(): { tables: readonly RecordedTable[]; notes: ReadonlyArray<{ bench: string; text: string }> } {
  return recorded;
}

/** "29,881" -> 29881, "2.69" -> 2.69; anything else (units, ranges, "-") stays text. */
function figure(v: string | number): string | number {
  if (typeof v === 'number') return v;
  const plain = v.replaceAll(',', '').trim();
  return /^-?\d+(\.\d+)?$/.test(plain) ? Number(plain) : v;
}

/** A line of explanation under a table (kept in the JSON as text). */
export function printNote(text: string): void {
  console.log(`\n${text}`);
  recorded.notes.push({ bench: currentBench, text });
}

export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  recorded.tables.push({
    bench: currentBench,
    title,
    rows: rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, figure(v)]))),
  });
  console.log(`\n## ${title}\n`);
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0] as object);
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(headers));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(headers.map((h) => String(r[h]))));
}
