import { Ranges } from '../../src/codec/ranges.js';
import { LIMITS } from '../../src/codec/validate.js';
import { refuse } from './conversion.js';
import type { Steps } from './conversion.js';
import type { DirectContext, DirectConversion, WireOrigin } from './direct-conversion.js';
import { be32, endSpan, entryOfKey, entryOfKeyText, out, readKeyValues, walkExport, writeAttributes } from './direct-conversion.js';
import { EVENT_NAME_ATTRIBUTE, LOG_FLAGS_ATTRIBUTE, OBSERVED_TIME_ATTRIBUTE, PER_CARRIER, SEVERITY_TEXT_ATTRIBUTE, severityOfText } from './logs-to-ssf.js';
import { anyValueText, DECLINE, field, fixed32, fixed64, hex, r, skipField, tag, uint64Decimal, varint32, writeAnyValue } from './wire-values.js';

/*
 * ExportLogsServiceRequest bytes -> SSF carrier span bytes in one pass
 * (logsToSsf + encodeSpan + the intake's validation, without objects): see
 * direct-conversion.ts. It takes requests whose records all become valid
 * SSF log records inside the accepted times, or are refused as logsToSsf
 * refuses them (ids, severity); anything else is declined.
 */

const LOG_ATTRIBUTES = 0x22; // SSFLogRecord field 4, wire type 2
const KEY = {
  severityText: Buffer.from(SEVERITY_TEXT_ATTRIBUTE),
  observed: Buffer.from(OBSERVED_TIME_ATTRIBUTE),
  eventName: Buffer.from(EVENT_NAME_ATTRIBUTE),
  flags: Buffer.from(LOG_FLAGS_ATTRIBUTE),
  droppedAttributes: Buffer.from('otel.dropped_attributes_count'),
};

const attrs = new Ranges();

/** The carrier being written: where it starts, its ids as halves, its records. */
interface Carrier {
  open: boolean;
  start: number;
  lowLo: number;
  lowHi: number;
  highLo: number;
  highHi: number;
  idLo: number;
  idHi: number;
  records: number;
}
const carrier: Carrier = { open: false, start: 0, lowLo: 0, lowHi: 0, highLo: 0, highHi: 0, idLo: 0, idHi: 0, records: 0 };

/** logsToSsf, encodeSpan and the intake's checks in one pass, in slices; throws DECLINE (caught by the caller) when unsure. */
export function* logsDirect(body: Uint8Array, ctx: DirectContext): Steps<DirectConversion> {
  carrier.open = false;
  return yield* walkExport(body, ctx, LOG_ATTRIBUTES, record, flush);
}

function flush(c: DirectConversion, ctx: DirectContext): void {
  if (!carrier.open) return;
  const from = out.pos;
  if ((carrier.highLo | carrier.highHi) !== 0) {
    out.byte(0xb8);
    out.byte(0x06);
    out.varint64(carrier.highLo, carrier.highHi);
  }
  ctx.budget.take(0, out.pos - from);
  endSpan(c, ctx, carrier.start, carrier.lowLo, carrier.lowHi, carrier.records);
  carrier.open = false;
}

/** The rest of a refused record, read whole (as protobufjs decodes it). */
function readRefused(bodyS: number, bodyE: number): void {
  anyValueText(bodyS, bodyE);
  readKeyValues(attrs);
}

function record(c: DirectConversion, ctx: DirectContext, origin: WireOrigin, start: number, end: number): void {
  const b = r.buf;
  c.total++;
  let timeLo = 0;
  let timeHi = 0;
  let observedLo = 0;
  let observedHi = 0;
  let severity = 0;
  let textS = 0;
  let textE = 0;
  let bodyS = -1;
  let bodyE = -1;
  let dropped = 0;
  let flags = 0;
  let traceS = 0;
  let traceE = 0;
  let spanS = 0;
  let spanE = 0;
  let eventS = 0;
  let eventE = 0;
  attrs.clear();
  r.pos = start;
  while (r.pos < end) {
    const t = tag(end);
    const f = t >>> 3;
    const wire = t & 7;
    switch (f) {
      case 1:
        fixed64(wire, end);
        timeLo = r.lo;
        timeHi = r.hi;
        break;
      case 11:
        fixed64(wire, end);
        observedLo = r.lo;
        observedHi = r.hi;
        break;
      case 2:
        severity = varint32(wire, end) | 0; // int32
        break;
      case 7:
        dropped = varint32(wire, end);
        break;
      case 8:
        flags = fixed32(wire, end);
        break;
      case 3:
      case 5:
      case 6:
      case 9:
      case 10:
      case 12: {
        const stop = field(wire, end);
        const from = r.pos;
        r.pos = stop;
        if (f === 3) {
          textS = from;
          textE = stop;
        } else if (f === 5) {
          if (bodyS >= 0) throw DECLINE;
          bodyS = from;
          bodyE = stop;
        } else if (f === 6) {
          attrs.push(from, stop);
        } else if (f === 9) {
          traceS = from;
          traceE = stop;
        } else if (f === 10) {
          spanS = from;
          spanE = stop;
        } else {
          eventS = from;
          eventE = stop;
        }
        break;
      }
      default:
        skipField(f, wire, end);
    }
  }

  // logsToSsf's refusals, with its words.
  const traceLength = traceE - traceS;
  const spanLength = spanE - spanS;
  const lowLo = traceLength === 16 ? be32(b, traceS + 12) : 0;
  const lowHi = traceLength === 16 ? be32(b, traceS + 8) : 0;
  const highLo = traceLength === 16 ? be32(b, traceS + 4) : 0;
  const highHi = traceLength === 16 ? be32(b, traceS) : 0;
  if ((traceLength !== 0 && traceLength !== 16) || ((lowLo | lowHi) === 0 && (highLo | highHi) !== 0) || (spanLength !== 0 && spanLength !== 8)) {
    readRefused(bodyS, bodyE);
    refuse(
      c,
      'OTLP_ERR_BAD_TRACE_ID',
      `log record: trace_id must be 16 bytes and span_id 8 bytes, or both empty (has ${hex(traceS, traceE) || 'none'}/${hex(spanS, spanE) || 'none'})`,
    );
    return;
  }
  if (severity < 0 || severity > 24) {
    readRefused(bodyS, bodyE);
    refuse(c, 'OTLP_ERR_SEVERITY_UNKNOWN', `log record: severity_number ${severity} is not an OpenTelemetry SeverityNumber (0-24)`);
    return;
  }
  // No number: a level name as text gives it, as on the general path. The names are ASCII and at most 9 bytes (CRITICAL4 is not one, WARNING is 7).
  if (severity === 0 && textE > textS && textE - textS <= 9) severity = severityOfText(String.fromCharCode(...b.subarray(textS, textE)));
  // The record's time (the observed time when 0; the received time when both are), inside the accepted times.
  const useObserved = (timeLo | timeHi) === 0;
  const tsLo = useObserved ? observedLo : timeLo;
  const tsHi = useObserved ? observedHi : timeHi;
  const ns = (tsLo | tsHi) === 0 ? ctx.receivedNs : (tsHi | 0) * 0x1_0000_0000 + tsLo;
  if (ns < ctx.window.logsFrom || ns > ctx.window.to) throw DECLINE;

  let recordFrom = out.pos;
  const idLo = spanLength === 8 ? be32(b, spanS + 4) : 0;
  const idHi = spanLength === 8 ? be32(b, spanS) : 0;
  if (
    !carrier.open ||
    carrier.lowLo !== lowLo ||
    carrier.lowHi !== lowHi ||
    carrier.highLo !== highLo ||
    carrier.highHi !== highHi ||
    carrier.idLo !== idLo ||
    carrier.idHi !== idHi ||
    carrier.records >= PER_CARRIER
  ) {
    flush(c, ctx);
    recordFrom = out.pos;
    carrier.open = true;
    carrier.start = out.pos;
    carrier.lowLo = lowLo;
    carrier.lowHi = lowHi;
    carrier.highLo = highLo;
    carrier.highHi = highHi;
    carrier.idLo = idLo;
    carrier.idHi = idHi;
    carrier.records = 0;
    if ((lowLo | lowHi) !== 0) {
      out.byte(0x10);
      out.varint64(lowLo, lowHi);
    }
    if ((idLo | idHi) !== 0) {
      out.byte(0x18);
      out.varint64(idLo, idHi);
    }
    if (origin.serviceBytes.length > 0) {
      out.byte(0x42);
      out.varint32(origin.serviceBytes.length);
      out.copy(origin.serviceBytes, 0, origin.serviceBytes.length);
    }
  }
  carrier.records++;

  out.byte(0xa2);
  out.byte(0x06);
  const rec = out.begin();
  if ((tsLo | tsHi) !== 0) {
    out.byte(0x08);
    out.varint64(tsLo, tsHi);
  }
  if (severity !== 0) {
    out.byte(0x10);
    out.varint32(severity);
  }
  const bodyTag = out.pos;
  out.byte(0x1a);
  const bodyAt = out.begin();
  writeAnyValue(out, bodyS, bodyE);
  const bodyLength = out.pos - bodyAt;
  if (bodyLength > LIMITS.logBodyBytes) throw DECLINE;
  if (bodyLength === 0) out.pos = bodyTag;
  else out.end(bodyAt);
  out.copy(origin.entries, 0, origin.entries.length);
  let count = origin.count + writeAttributes(out, LOG_ATTRIBUTES, attrs);
  if (textE > textS) {
    entryOfKeyText(out, LOG_ATTRIBUTES, KEY.severityText, textS, textE);
    count++;
  }
  if ((observedLo | observedHi) !== 0) {
    entryOfKey(out, LOG_ATTRIBUTES, KEY.observed, uint64Decimal(observedLo, observedHi));
    count++;
  }
  if (eventE > eventS) {
    entryOfKeyText(out, LOG_ATTRIBUTES, KEY.eventName, eventS, eventE);
    count++;
  }
  if (flags !== 0) {
    entryOfKey(out, LOG_ATTRIBUTES, KEY.flags, String(flags));
    count++;
  }
  if (dropped !== 0) {
    entryOfKey(out, LOG_ATTRIBUTES, KEY.droppedAttributes, String(dropped));
    count++;
  }
  // validateSpan refuses an empty record (SSF_LOG_EMPTY) and a map past the limit.
  if (count > LIMITS.tagsPerMap || (bodyLength === 0 && count === 0)) throw DECLINE;
  out.end(rec);
  // The record, and the carrier's start when this record opened it.
  ctx.budget.take(1, out.pos - recordFrom);
}
