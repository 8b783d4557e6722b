import { UsageError } from './command.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration flag (`500ms`, `2s`, `15m`, `1h`, `7d`; a bare number is seconds) in milliseconds; anything else is a UsageError naming the flag. */
export function parseDurationArg(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag} must be a duration such as 500ms, 30s, 15m, 2h or 7d (got "${value}")`);
  return Number(m[1]) * (UNITS[m[2] ?? 's'] as number);
}
