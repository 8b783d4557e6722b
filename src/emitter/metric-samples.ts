import type { MetricSample, MetricScope, MetricStatus, MetricType } from '../codec/types.js';
import { timeToNs } from './clock.js';
import type { DropAccounting } from './drop-accounting.js';
import type { MetricOptions } from './emitter-types.js';

const SCOPES: ReadonlySet<string> = new Set<MetricScope>(['default', 'local', 'global']);
const STATUSES: ReadonlySet<string> = new Set<MetricStatus>(['ok', 'warning', 'critical', 'unknown']);

/**
 * Builds one metric sample, or counts why not: `invalid` for what a
 * JavaScript caller got wrong (no name, a value that is not finite, a tag
 * value that is not a string, an unknown scope or status), `sampledOut` for
 * client-side sampling. Checked here, one event at a time, so that a bad
 * sample is refused alone instead of failing the carrier it would share.
 */
export function buildSample(
  accounting: DropAccounting,
  type: MetricType,
  name: string,
  value: number,
  message: string,
  options: (MetricOptions & { status?: MetricStatus }) | undefined,
): MetricSample | undefined {
  const problem = sampleProblem(name, value, options);
  if (problem) {
    accounting.drop('invalid', 1, `metric "${String(name)}" was dropped: ${problem}`);
    return undefined;
  }
  let sampleRate = 1;
  if (options?.sampleRate !== undefined) {
    sampleRate = clamp01(options.sampleRate);
    if (sampleRate <= 0 || Math.random() >= sampleRate) {
      accounting.sampledOut++;
      return undefined;
    }
  }
  return {
    type,
    name,
    value,
    timestamp: timeToNs(options?.timestamp),
    message,
    status: options?.status ?? 'ok',
    sampleRate,
    tags: options?.tags ?? {},
    unit: options?.unit ?? '',
    scope: options?.scope ?? 'default',
  };
}

function sampleProblem(name: unknown, value: unknown, options: (MetricOptions & { status?: MetricStatus }) | undefined): string | undefined {
  if (typeof name !== 'string' || name === '' || typeof value !== 'number' || !Number.isFinite(value)) return 'it needs a name and a finite value';
  if (options === undefined) return undefined;
  if (options.tags !== undefined && !isStringRecord(options.tags)) return 'tag values must be strings';
  if (options.unit !== undefined && typeof options.unit !== 'string') return 'its unit must be a string';
  if (options.scope !== undefined && !SCOPES.has(options.scope)) return `scope "${String(options.scope)}" is not one of default, local, global`;
  if (options.status !== undefined && !STATUSES.has(options.status)) return `status "${String(options.status)}" is not one of ok, warning, critical, unknown`;
  const t: unknown = options.timestamp;
  if (t !== undefined && typeof t !== 'bigint' && !(t instanceof Date && Number.isFinite(t.getTime())) && !(typeof t === 'number' && Number.isFinite(t))) {
    return 'its timestamp must be a Date, epoch milliseconds or bigint nanoseconds';
  }
  return undefined;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  if (typeof v !== 'object' || v === null) return false;
  for (const k in v) if (typeof (v as Record<string, unknown>)[k] !== 'string') return false;
  return true;
}

/** A rate in [0, 1]; anything not a finite number counts as 1 (keep). */
export function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 1;
}
