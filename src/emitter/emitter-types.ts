import type { MetricScope } from '../codec/types.js';
import type { TimeInput } from './clock.js';

export interface MetricOptions {
  tags?: Record<string, string>;
  /** Client-side sampling in (0, 1]: the sample is sent with this probability and carries the rate. */
  sampleRate?: number;
  unit?: string;
  /** Veneur's aggregation scope: `local`, `global` or `default`. */
  scope?: MetricScope;
  timestamp?: TimeInput;
}

/** Log fields become string attributes (objects as JSON). */
export type LogFields = Record<string, unknown>;
