/**
 * "Stop accepting for a moment after a failure", shared by every sink: after
 * a failed send, `accepting` is false for `pauseMs` (UDP drops and counts
 * rather than piling up promises against a backend that is down); the first
 * success closes it again.
 */
export class FailureBreaker {
  private failingSinceMs = 0;
  private lastFailureMs = 0;

  constructor(private readonly pauseMs = 2_000) {}

  failed(): void {
    const now = Date.now();
    this.failingSinceMs ||= now;
    this.lastFailureMs = now;
  }

  succeeded(): void {
    this.failingSinceMs = 0;
    this.lastFailureMs = 0;
  }

  /** The last send failed (no success since). */
  get failing(): boolean {
    return this.failingSinceMs !== 0;
  }

  /** False for pauseMs after each failure while failing. */
  get accepting(): boolean {
    return this.failingSinceMs === 0 || Date.now() - this.lastFailureMs > this.pauseMs;
  }

  /** Seconds since the first failure of the current run (0 when not failing). */
  get failingForSeconds(): number {
    return this.failingSinceMs === 0 ? 0 : Math.round((Date.now() - this.failingSinceMs) / 1000);
  }

  /** Seconds since the last failure (0 when not failing). */
  get lastFailureSecondsAgo(): number {
    return this.lastFailureMs === 0 ? 0 : Math.round((Date.now() - this.lastFailureMs) / 1000);
  }
}
