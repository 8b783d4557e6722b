import type { IAnyValue, IKeyValue } from './otlp-messages.js';
import { signed64 } from './otlp-messages.js';
import { setTag } from '../../src/codec/tag-map.js';

/*
 * The string form of an OTLP attribute value (docs/otlp.md, "Attribute
 * values"): SSF tags and log attributes are map<string, string>.
 *   string        as is
 *   bool          true | false
 *   int           decimal (all 64 bits)
 *   double        shortest round-trip decimal (JavaScript's Number#toString): 1.5, 1e+21, NaN, Infinity, -Infinity
 *   bytes         base64 (RFC 4648, padded)
 *   array, kvlist JSON: [..] and {..} of the values' JSON forms (strings, bytes as base64 strings;
 *                 ints as JSON numbers written exactly; non-finite doubles as strings)
 *   empty value   "" (JSON null inside an array or kvlist)
 * The same rules as the Collector's pcommon.Value.AsString(), so a value
 * reads the same in our tables as in the Collector's.
 */

export function anyValueString(v: IAnyValue | null | undefined): string {
  if (!v) return '';
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue ? 'true' : 'false';
  if (v.intValue !== undefined && v.intValue !== null) return signed64(v.intValue).toString();
  if (v.doubleValue !== undefined && v.doubleValue !== null) return String(v.doubleValue);
  if (v.bytesValue !== undefined && v.bytesValue !== null) return Buffer.from(v.bytesValue).toString('base64');
  if (v.arrayValue || v.kvlistValue) return anyValueJson(v);
  return '';
}

function anyValueJson(v: IAnyValue | null | undefined): string {
  if (!v) return 'null';
  if (v.stringValue !== undefined && v.stringValue !== null) return JSON.stringify(v.stringValue);
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue ? 'true' : 'false';
  if (v.intValue !== undefined && v.intValue !== null) return signed64(v.intValue).toString();
  if (v.doubleValue !== undefined && v.doubleValue !== null)
    return Number.isFinite(v.doubleValue) ? String(v.doubleValue) : JSON.stringify(String(v.doubleValue));
  if (v.bytesValue !== undefined && v.bytesValue !== null) return JSON.stringify(Buffer.from(v.bytesValue).toString('base64'));
  if (v.arrayValue) return `[${(v.arrayValue.values ?? []).map(anyValueJson).join(',')}]`;
  if (v.kvlistValue) return `{${(v.kvlistValue.values ?? []).map((kv) => `${JSON.stringify(kv.key ?? '')}:${anyValueJson(kv.value)}`).join(',')}}`;
  return 'null';
}

/** Key-values into `into`, each key under `prefix`; a later duplicate key wins. */
export function addAttributes(into: Record<string, string>, attributes: readonly IKeyValue[] | null | undefined, prefix = ''): void {
  if (!attributes) return;
  for (const kv of attributes) setTag(into, prefix + (kv.key ?? ''), anyValueString(kv.value));
}
