/**
 * A skip index's part of ClickHouse's `EXPLAIN indexes = 1`: the granules it
 * selected of those it considered, or undefined when the plan does not name
 * the index (it is not used). The tests that check an index serves a query
 * read the plan with this one function.
 */
export function skipIndexGranules(plan: string, index: string): { selected: number; total: number } | undefined {
  const lines = plan.split('\n');
  const at = lines.findIndex((l) => l.endsWith(`Name: ${index}`));
  if (at === -1) return undefined;
  const m = lines
    .slice(at, at + 6)
    .map((l) => /Granules: (\d+)\/(\d+)/.exec(l))
    .find((x) => x !== null);
  if (!m) throw new Error(`no granule count after ${index} in:\n${plan}`);
  return { selected: Number(m[1]), total: Number(m[2]) };
}
