/*
 * The names of a batch in Kafka and ClickHouse: the intent written as commit
 * metadata before the insert, and the insert's deduplication token. Both are
 * derived from the batch's offset range only, so a batch rebuilt after a crash
 * gets the same ones (the top of materializer.ts, docs/architecture.md).
 *
 * Every commit also carries the partition's producer windows
 * (producer-window.ts) as of the committed offset, after a `|`:
 *   intent:        ssf-materializer:1:<first>-<last>|<windows>
 *   batch written: ssf-materializer:1:done|<windows>
 * (no `|` part, and no metadata after a batch, when no record had a producer stamp).
 */

/** An offset range [first, last] of one partition: one batch. */
export interface Range {
  first: bigint;
  last: bigint;
}

const INTENT = /^ssf-materializer:1:(\d+)-(\d+)(?:\|(.*))?$/;
const DONE = /^ssf-materializer:1:done\|(.*)$/;

/** The commit metadata that says "the range may be inserted", with the producer windows as of `first`. */
export function intentOf(range: Range, windows = ''): string {
  return `ssf-materializer:1:${range.first}-${range.last}${windows === '' ? '' : `|${windows}`}`;
}

/** The commit metadata after a batch: the producer windows as of `last + 1` (null when there are none). */
export function doneOf(windows: string): string | null {
  return windows === '' ? null : `ssf-materializer:1:done|${windows}`;
}

/** What a committed offset's metadata says: a range to replay (an intent starting at the committed offset) and the producer windows. */
export function parseCommitted(metadata: string | null, committed: bigint | undefined): { replay: Range | undefined; windows: string } {
  const text = metadata ?? '';
  const done = DONE.exec(text);
  if (done !== null) return { replay: undefined, windows: done[1] ?? '' };
  const m = INTENT.exec(text);
  if (m === null || committed === undefined || BigInt(m[1] ?? '-1') !== committed) return { replay: undefined, windows: '' };
  return { replay: { first: committed, last: BigInt(m[2] ?? '-1') }, windows: m[3] ?? '' };
}

/** The range of a committed intent, when the metadata is one and starts at the committed offset. */
export function parseIntent(metadata: string | null, committed: bigint | undefined): Range | undefined {
  return parseCommitted(metadata, committed).replay;
}

/** The insert deduplication token: `<topic>:<partition>:<first>-<last>`. */
export function insertToken(topic: string, partition: number, range: Range): string {
  return `${topic}:${partition}:${range.first}-${range.last}`;
}
