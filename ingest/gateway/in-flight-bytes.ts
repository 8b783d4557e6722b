/**
 * Request bytes a set of receivers holds at once (the OTLP listeners share
 * one; POST /v1/ssf has its own): a body counts from its first byte until its
 * answer. Without it, N connections could each hold up to
 * gateway.maxBodyBytes, or decompressed gateway.maxDecompressedBytes.
 */
export class InFlightBytes {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Takes `n` bytes of the budget; false (nothing taken) when that would pass the limit. */
  take(n: number): boolean {
    if (this.held + n > this.limit) return false;
    this.held += n;
    return true;
  }

  give(n: number): void {
    this.held -= n;
  }

  get bytes(): number {
    return this.held;
  }

  /**
   * The `onChunk` of decompress() for a request holding `request.held` bytes
   * (its body as sent): the request counts as the larger of its body as sent
   * and decompressed, taken chunk by chunk as it inflates, so the budget is
   * spent before the memory is. Throws `busy()` when the budget has no room.
   */
  inflation(request: { held: number }, busy: () => Error): (bytes: number) => void {
    let inflated = 0;
    return (bytes) => {
      inflated += bytes;
      const more = inflated - request.held;
      if (more <= 0) return;
      if (!this.take(more)) throw busy();
      request.held += more;
    };
  }
}
