import { Ranges } from '../../src/codec/ranges.js';
import { LIMITS } from '../../src/codec/validate.js';
import { setTag } from '../../src/codec/tag-map.js';
import { refuse } from './conversion.js';
import type { Steps } from './conversion.js';
import type { DirectContext, DirectConversion, WireOrigin } from './direct-conversion.js';
import { be32, endSpan, entryOfKey, entryOfKeyText, out, readKeyValues, walkExport, writeAttributes } from './direct-conversion.js';
import {
  indicatorKind,
  LINKS_TAG,
  SPAN_EVENT_ATTRIBUTE,
  SPAN_KIND_TAG,
  SPAN_KINDS,
  STATUS_CODE_TAG,
  STATUS_CODES,
  STATUS_MESSAGE_TAG,
  TRACE_STATE_TAG,
} from './traces-to-ssf.js';
import {
  anyValueText,
  DECLINE,
  field,
  fixed32,
  fixed64,
  hex,
  kvKeyEnd,
  kvKeyStart,
  kvValueEnd,
  kvValueStart,
  r,
  readKeyValue,
  skipField,
  tag,
  text,
  utf8Ok,
  varint32,
} from './wire-values.js';

/*
 * ExportTraceServiceRequest bytes -> SSF trace span bytes in one pass
 * (tracesToSsf + encodeSpan + the intake's validation, without objects):
 * see direct-conversion.ts. It takes requests whose spans all become valid
 * trace spans inside the accepted times, or are refused for their ids as
 * tracesToSsf refuses them; anything else is declined.
 */

const TAGS = 0x5a; // SSFSpan field 11 (tags), wire type 2
const LOG_ATTRIBUTES = 0x22; // SSFLogRecord field 4
const KEY = {
  kind: Buffer.from(SPAN_KIND_TAG),
  status: Buffer.from(STATUS_CODE_TAG),
  message: Buffer.from(STATUS_MESSAGE_TAG),
  traceState: Buffer.from(TRACE_STATE_TAG),
  links: Buffer.from(LINKS_TAG),
  droppedAttributes: Buffer.from('otel.dropped_attributes_count'),
  droppedEvents: Buffer.from('otel.dropped_events_count'),
  droppedLinks: Buffer.from('otel.dropped_links_count'),
};
// The first entry of every span event's attributes: otel.span_event = true.
const SPAN_EVENT_ENTRY = Buffer.from([
  LOG_ATTRIBUTES,
  SPAN_EVENT_ATTRIBUTE.length + 8,
  0x0a,
  SPAN_EVENT_ATTRIBUTE.length,
  ...Buffer.from(SPAN_EVENT_ATTRIBUTE),
  0x12,
  4,
  ...Buffer.from('true'),
]);

// Scratch of one span (reused).
const attrs = new Ranges();
const events = new Ranges();
const links = new Ranges();
const eventAttrs = new Ranges();

/** An OTLP id field (bytes) read as a range. */
let idStart = 0;
let idEnd = 0;
function idField(wire: number, end: number): void {
  const stop = field(wire, end);
  idStart = r.pos;
  idEnd = stop;
  r.pos = stop;
}

function allZero(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** An 8-byte big-endian id at `at` as a varint field (tag byte first). */
function idVarint(tagByte: number, b: Uint8Array, at: number): void {
  out.byte(tagByte);
  out.varint64(be32(b, at + 4), be32(b, at));
}

/** tracesToSsf, encodeSpan and the intake's checks in one pass, in slices; throws DECLINE (caught by the caller) when unsure. */
export function tracesDirect(body: Uint8Array, ctx: DirectContext): Steps<DirectConversion> {
  return walkExport(body, ctx, TAGS, span);
}

function span(c: DirectConversion, ctx: DirectContext, origin: WireOrigin, start: number, end: number): void {
  const b = r.buf;
  c.total++;
  let traceStart = 0;
  let traceEnd = 0;
  let idS = 0;
  let idE = 0;
  let parentS = 0;
  let parentE = 0;
  let stateS = 0;
  let stateE = 0;
  let nameS = 0;
  let nameE = 0;
  let kind = 0;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let droppedAttributes = 0;
  let droppedEvents = 0;
  let droppedLinks = 0;
  let statusS = -1;
  let statusE = -1;
  attrs.clear();
  events.clear();
  links.clear();
  r.pos = start;
  while (r.pos < end) {
    const t = tag(end);
    const f = t >>> 3;
    const wire = t & 7;
    switch (f) {
      case 1:
        idField(wire, end);
        traceStart = idStart;
        traceEnd = idEnd;
        break;
      case 2:
        idField(wire, end);
        idS = idStart;
        idE = idEnd;
        break;
      case 3:
        idField(wire, end);
        stateS = idStart;
        stateE = idEnd;
        break;
      case 4:
        idField(wire, end);
        parentS = idStart;
        parentE = idEnd;
        break;
      case 5:
        idField(wire, end);
        nameS = idStart;
        nameE = idEnd;
        break;
      case 6:
        kind = varint32(wire, end) | 0; // int32
        break;
      case 7:
        fixed64(wire, end);
        startLo = r.lo;
        startHi = r.hi;
        break;
      case 8:
        fixed64(wire, end);
        endLo = r.lo;
        endHi = r.hi;
        break;
      case 9:
      case 11:
      case 13:
      case 15: {
        idField(wire, end);
        if (f === 9) attrs.push(idStart, idEnd);
        else if (f === 11) events.push(idStart, idEnd);
        else if (f === 13) links.push(idStart, idEnd);
        else {
          if (statusS >= 0) throw DECLINE;
          statusS = idStart;
          statusE = idEnd;
        }
        break;
      }
      case 10:
        droppedAttributes = varint32(wire, end);
        break;
      case 12:
        droppedEvents = varint32(wire, end);
        break;
      case 14:
        droppedLinks = varint32(wire, end);
        break;
      case 16:
        fixed32(wire, end);
        break;
      default:
        skipField(f, wire, end);
    }
  }

  let code = 0;
  let messageS = 0;
  let messageE = 0;
  if (statusS >= 0) {
    r.pos = statusS;
    while (r.pos < statusE) {
      const t = tag(statusE);
      const f = t >>> 3;
      if (f === 2) {
        const stop = field(t & 7, statusE);
        messageS = r.pos;
        messageE = stop;
        r.pos = stop;
      } else if (f === 3) {
        // int32 (a negative code is 10 bytes, which varint32 declines).
        code = varint32(t & 7, statusE) | 0;
      } else {
        skipField(f, t & 7, statusE);
      }
    }
  }

  // tracesToSsf's refusals, with its words.
  if (traceEnd - traceStart !== 16 || allZero(b, traceStart + 8, traceEnd)) {
    readRefused();
    refuse(
      c,
      'OTLP_ERR_BAD_TRACE_ID',
      `span ${JSON.stringify(text(nameS, nameE))}: trace_id must be 16 bytes, not all zero in its low 8 bytes (has ${hex(traceStart, traceEnd) || 'none'})`,
    );
    return;
  }
  const parentLength = parentE - parentS;
  if (idE - idS !== 8 || allZero(b, idS, idE) || (parentLength !== 0 && parentLength !== 8)) {
    readRefused();
    refuse(c, 'OTLP_ERR_BAD_SPAN_ID', `span ${JSON.stringify(text(nameS, nameE))}: span_id and parent_span_id must be 8 bytes (span_id not zero)`);
    return;
  }

  // A valid trace span (validateSpan: times, a name, end not before start), inside the accepted times.
  const nameLength = nameE - nameS;
  if (nameLength === 0 || nameLength > LIMITS.nameBytes || !utf8Ok(b, nameS, nameE)) throw DECLINE;
  if ((startLo | startHi) === 0 || (endLo | endHi) === 0) throw DECLINE;
  if ((endHi | 0) < (startHi | 0) || (endHi === startHi && endLo >>> 0 < startLo >>> 0)) throw DECLINE;
  const startNs = (startHi | 0) * 0x1_0000_0000 + startLo;
  const endNs = (endHi | 0) * 0x1_0000_0000 + endLo;
  const w = ctx.window;
  if (startNs < w.spansFrom || startNs > w.to || endNs < w.spansFrom || endNs > w.to) throw DECLINE;

  const spanStart = out.pos;
  idVarint(0x10, b, traceStart + 8);
  idVarint(0x18, b, idS);
  if (parentLength === 8 && !allZero(b, parentS, parentE)) idVarint(0x20, b, parentS);
  out.byte(0x28);
  out.varint64(startLo, startHi);
  out.byte(0x30);
  out.varint64(endLo, endHi);
  if (code === 2) {
    out.byte(0x38);
    out.byte(1);
  }
  if (origin.serviceBytes.length > 0) {
    out.byte(0x42);
    out.varint32(origin.serviceBytes.length);
    out.copy(origin.serviceBytes, 0, origin.serviceBytes.length);
  }
  out.copy(origin.entries, 0, origin.entries.length);
  let tags = origin.count + writeAttributes(out, TAGS, attrs);
  if (kind !== 0) {
    const name = SPAN_KINDS[kind];
    if (name === undefined) c.unknownEnums++;
    entryOfKey(out, TAGS, KEY.kind, name ?? String(kind));
    tags++;
  }
  if (code !== 0) {
    const name = STATUS_CODES[code];
    if (name === undefined) c.unknownEnums++;
    entryOfKey(out, TAGS, KEY.status, name ?? String(code));
    tags++;
  }
  if (messageE > messageS) {
    entryOfKeyText(out, TAGS, KEY.message, messageS, messageE);
    tags++;
  }
  if (stateE > stateS) {
    entryOfKeyText(out, TAGS, KEY.traceState, stateS, stateE);
    tags++;
  }
  if (links.n > 0) {
    entryOfKey(out, TAGS, KEY.links, linksJson());
    tags++;
  }
  if (droppedAttributes !== 0) {
    entryOfKey(out, TAGS, KEY.droppedAttributes, String(droppedAttributes));
    tags++;
  }
  if (droppedEvents !== 0) {
    entryOfKey(out, TAGS, KEY.droppedEvents, String(droppedEvents));
    tags++;
  }
  if (droppedLinks !== 0) {
    entryOfKey(out, TAGS, KEY.droppedLinks, String(droppedLinks));
    tags++;
  }
  if (tags > LIMITS.tagsPerMap) throw DECLINE;
  if (indicatorKind(kind)) {
    out.byte(0x60); // indicator (12), true
    out.byte(1);
  }
  out.byte(0x6a);
  out.varint32(nameLength);
  out.copy(b, nameS, nameE);
  for (let i = 0; i < events.n * 2; i += 2) spanEvent(ctx, events.at[i] as number, events.at[i + 1] as number);
  const highLo = be32(b, traceStart + 4);
  const highHi = be32(b, traceStart);
  if ((highLo | highHi) !== 0) {
    out.byte(0xb8);
    out.byte(0x06);
    out.varint64(highLo, highHi);
  }
  ctx.budget.take(1 + events.n, out.pos - spanStart);
  endSpan(c, ctx, spanStart, be32(b, traceStart + 12), be32(b, traceStart + 8), 1 + events.n);
}

/** The rest of a refused span, read whole (as protobufjs decodes it). */
function readRefused(): void {
  readKeyValues(attrs);
  for (let i = 0; i < events.n * 2; i += 2) {
    readEvent(events.at[i] as number, events.at[i + 1] as number);
    readKeyValues(eventAttrs);
  }
  if (links.n > 0) linksJson();
}

// One span event's fields (readEvent).
let timeLo = 0;
let timeHi = 0;
let nameS = 0;
let nameE = 0;

function readEvent(start: number, end: number): void {
  timeLo = 0;
  timeHi = 0;
  nameS = 0;
  nameE = 0;
  eventAttrs.clear();
  r.pos = start;
  while (r.pos < end) {
    const t = tag(end);
    const f = t >>> 3;
    const wire = t & 7;
    if (f === 1) {
      fixed64(wire, end);
      timeLo = r.lo;
      timeHi = r.hi;
    } else if (f === 2 || f === 3) {
      const stop = field(wire, end);
      if (f === 2) {
        nameS = r.pos;
        nameE = stop;
      } else {
        eventAttrs.push(r.pos, stop);
      }
      r.pos = stop;
    } else if (f === 4) {
      varint32(wire, end);
    } else {
      skipField(f, wire, end);
    }
  }
}

/** A span event as one of the span's log records (SSFSpan field 100). */
function spanEvent(ctx: DirectContext, start: number, end: number): void {
  const b = r.buf;
  readEvent(start, end);
  const ns = (timeLo | timeHi) === 0 ? ctx.receivedNs : (timeHi | 0) * 0x1_0000_0000 + timeLo;
  if (ns < ctx.window.logsFrom || ns > ctx.window.to) throw DECLINE;
  if (nameE - nameS > LIMITS.logBodyBytes || !utf8Ok(b, nameS, nameE)) throw DECLINE;
  if (1 + eventAttrs.n > LIMITS.tagsPerMap) throw DECLINE;
  out.byte(0xa2);
  out.byte(0x06);
  const record = out.begin();
  if ((timeLo | timeHi) !== 0) {
    out.byte(0x08);
    out.varint64(timeLo, timeHi);
  }
  if (nameE > nameS) {
    out.byte(0x1a);
    out.varint32(nameE - nameS);
    out.copy(b, nameS, nameE);
  }
  out.copy(SPAN_EVENT_ENTRY, 0, SPAN_EVENT_ENTRY.length);
  writeAttributes(out, LOG_ATTRIBUTES, eventAttrs);
  out.end(record);
}

/** The otel.links tag: built as tracesToSsf builds it (links are rare; objects are fine here). */
function linksJson(): string {
  const list: Array<{ trace_id: string; span_id: string; trace_state: string; attributes: Record<string, string> }> = [];
  for (let i = 0; i < links.n * 2; i += 2) {
    const end = links.at[i + 1] as number;
    let traceId = '';
    let spanId = '';
    let traceState = '';
    const kvs: number[] = [];
    r.pos = links.at[i] as number;
    while (r.pos < end) {
      const t = tag(end);
      const f = t >>> 3;
      const wire = t & 7;
      if (f >= 1 && f <= 4) {
        const stop = field(wire, end);
        if (f === 1) traceId = hex(r.pos, stop);
        else if (f === 2) spanId = hex(r.pos, stop);
        else if (f === 3) traceState = text(r.pos, stop);
        else kvs.push(r.pos, stop);
        r.pos = stop;
      } else if (f === 5) {
        varint32(wire, end);
      } else if (f === 6) {
        fixed32(wire, end);
      } else {
        skipField(f, wire, end);
      }
    }
    const attributes: Record<string, string> = {};
    for (let k = 0; k < kvs.length; k += 2) {
      readKeyValue(kvs[k] as number, kvs[k + 1] as number);
      setTag(attributes, text(kvKeyStart, kvKeyEnd), anyValueText(kvValueStart, kvValueEnd));
    }
    list.push({ trace_id: traceId, span_id: spanId, trace_state: traceState, attributes });
  }
  return JSON.stringify(list);
}
