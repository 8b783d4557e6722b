/*
 * The names of a batch in Kafka and ClickHouse: the intent written as commit
 * metadata before the insert, and the insert's deduplication token. Both are
 * derived from the batch's offset range only, so a batch rebuilt after a crash
 * gets the same ones (the top of materializer.ts, docs/architecture.md).
 */

/** An offset range [first, last] of one partition: one batch. */
export interface Range {
  first: bigint;
  last: bigint;
}

const INTENT = /^ssf-materializer:1:(\d+)-(\d+)$/;

/** The commit metadata that says "the range may be inserted": `ssf-materializer:1:<first>-<last>`. */
export function intentOf(range: Range): string {
  return `ssf-materializer:1:${range.first}-${range.last}`;
}

/** The range of a committed intent, when the metadata is one and starts at the committed offset. */
export function parseIntent(metadata: string | null, committed: bigint | undefined): Range | undefined {
  const m = INTENT.exec(metadata ?? '');
  if (m === null || committed === undefined || BigInt(m[1] ?? '-1') !== committed) return undefined;
  return { first: committed, last: BigInt(m[2] ?? '-1') };
}

/** The insert deduplication token: `<topic>:<partition>:<first>-<last>`. */
export function insertToken(topic: string, partition: number, range: Range): string {
  return `${topic}:${partition}:${range.first}-${range.last}`;
}
