import type { ProducerStamp } from '../../src/kafka/record-identity.js';

/*
 * Which (producer, sequence) pairs one partition has taken: a retried
 * produce writes the same record (same ssf-producer header) at a new offset,
 * and the copy is dropped here. Per producer: the highest sequence seen and
 * a 64-bit mask of the 64 sequences below it (records of one producer can
 * land out of order: the gateway has several sends in flight, and a retried
 * one lands after later ones). Bounded to MAX_PRODUCERS producers, least
 * recently seen evicted, so that it fits in the commit metadata (Kafka's
 * offset.metadata.max.bytes, 4 KiB by default) beside the intent.
 */

/** Producers remembered per partition. 32 x ~50 characters: about 1.6 KiB of commit metadata. */
export const MAX_PRODUCERS = 32;
const WIDTH = 64n;
const ALL = (1n << WIDTH) - 1n;

interface Seen {
  high: number;
  /** Bit i: sequence high - 1 - i was seen. */
  mask: bigint;
}

export type WindowVerdict = 'new' | 'duplicate' | 'too-old';

export class ProducerWindows {
  /** In recency order: the first one is evicted first. */
  private readonly producers = new Map<string, Seen>();

  /** Takes a record's stamp: 'duplicate' when it was seen; 'too-old' (taken, unchecked) when it is below the window. */
  take(stamp: ProducerStamp): WindowVerdict {
    const { producer, seq } = stamp;
    const seen = this.producers.get(producer);
    if (seen === undefined) {
      this.touch(producer, { high: seq, mask: 0n });
      return 'new';
    }
    let verdict: WindowVerdict = 'new';
    if (seq > seen.high) {
      const d = BigInt(seq - seen.high);
      seen.mask = d > WIDTH ? 0n : ((seen.mask << d) | (1n << (d - 1n))) & ALL;
      seen.high = seq;
    } else if (seq === seen.high) {
      verdict = 'duplicate';
    } else {
      const d = BigInt(seen.high - seq);
      if (d > WIDTH) verdict = 'too-old';
      else {
        const bit = 1n << (d - 1n);
        if ((seen.mask & bit) !== 0n) verdict = 'duplicate';
        else seen.mask |= bit;
      }
    }
    this.touch(producer, seen);
    return verdict;
  }

  private touch(producer: string, seen: Seen): void {
    this.producers.delete(producer);
    this.producers.set(producer, seen);
    if (this.producers.size > MAX_PRODUCERS) {
      const oldest = this.producers.keys().next().value;
      if (oldest !== undefined) this.producers.delete(oldest);
    }
  }

  /** `<producer>:<high>:<mask hex>` joined by commas, least recent first (so parse() restores the order). */
  serialize(): string {
    const out: string[] = [];
    for (const [p, s] of this.producers) out.push(`${p}:${s.high}:${s.mask.toString(16)}`);
    return out.join(',');
  }

  static parse(text: string): ProducerWindows {
    const w = new ProducerWindows();
    for (const item of text.split(',')) {
      const m = /^([0-9a-f]{16}):(\d{1,15}):([0-9a-f]{1,16})$/.exec(item);
      if (m !== null) w.touch(m[1] as string, { high: Number(m[2]), mask: BigInt(`0x${m[3] as string}`) });
    }
    return w;
  }
}
