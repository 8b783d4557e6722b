import { SEVERITY_NUMBER } from '../codec/span-encode.js';
import type { LogRecord, LogSeverity } from '../codec/types.js';
import { setTag } from '../codec/tag-map.js';
import { nowNs } from './clock.js';
import type { LogFields } from './emitter-types.js';

/** The SeverityNumber of a level name, or undefined for a name that is not a level. */
export function severityOf(level: LogSeverity): number | undefined {
  return Object.hasOwn(SEVERITY_NUMBER, level) ? SEVERITY_NUMBER[level] : undefined;
}

/** A log record stamped now; fields become string attributes. */
export function buildLogRecord(level: LogSeverity, severityNumber: number, message: string, fields: LogFields | undefined): LogRecord {
  return { timestamp: nowNs(), severity: level, severityNumber, body: String(message), attributes: fields ? stringifyFields(fields) : {} };
}

/** Strings stay, Errors become `Name: message`, objects JSON (bigints as text), the rest String(). */
function stringifyFields(fields: LogFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'string') setTag(out, k, v);
    else if (v === undefined) continue;
    else if (v instanceof Error) setTag(out, k, `${v.name}: ${v.message}`);
    else if (typeof v === 'object' && v !== null) {
      try {
        setTag(
          out,
          k,
          JSON.stringify(v, (_key, val: unknown) => (typeof val === 'bigint' ? val.toString() : val)),
        );
      } catch {
        setTag(out, k, String(v));
      }
    } else setTag(out, k, String(v));
  }
  return out;
}
