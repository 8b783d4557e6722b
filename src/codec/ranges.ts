/**
 * Scratch list of [start, end) byte ranges (repeated submessages, map
 * entries), for the fast paths that read protobuf without objects
 * (span-row-binary.ts, ingest/otlp's direct path). Reused from one message
 * to the next: clear() keeps the storage, where `array.length = 0` would
 * give it back and the next push() allocate it again.
 */
/** A copy of `at` in twice its length: the way a scratch list of numbers grows. */
export function doubled(at: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(at.length * 2);
  bigger.set(at);
  return bigger;
}

export class Ranges {
  /** start, end of each range, in order: range i is at[2i], at[2i + 1]. */
  at = new Int32Array(2 * 64);
  /** Ranges held. */
  n = 0;

  clear(): void {
    this.n = 0;
  }

  /** clear(), and gives back storage grown past `keep` ranges (one large message must not hold it for ever). */
  shrink(keep: number): void {
    this.n = 0;
    if (this.at.length > 2 * keep) this.at = new Int32Array(2 * 64);
  }

  push(start: number, end: number): void {
    const i = this.n * 2;
    if (i + 2 > this.at.length) this.at = doubled(this.at);
    this.at[i] = start;
    this.at[i + 1] = end;
    this.n++;
  }
}
