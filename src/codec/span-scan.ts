import { LIMITS } from './validate.js';
import { WireReader } from './wire-reader.js';

// A string of n bytes decodes to at most n UTF-16 units, so validate.ts's
// check (`s.length * 3 <= limit`) surely passes below these sizes.
const NAME_BYTES = Math.floor(LIMITS.nameBytes / 3);
const KEY_BYTES = Math.floor(LIMITS.tagKeyBytes / 3);
const VALUE_BYTES = Math.floor(LIMITS.tagValueBytes / 3);

// One cursor for this module's scans (synchronous: never shared by two at once).
const r = new WireReader();

/** A map<string, string> entry: key (1) and value (2), both strings, nothing else. */
function scanTagEntry(end: number): boolean {
  while (r.pos < end) {
    const tag = r.buf[r.pos++] as number;
    const stop = r.delimited(end);
    if (stop < 0) return false;
    const n = stop - r.pos;
    if (tag === 0x0a) {
      if (n > KEY_BYTES) return false;
    } else if (tag === 0x12) {
      if (n > VALUE_BYTES) return false;
    } else {
      return false;
    }
    r.pos = stop;
  }
  return true;
}

/**
 * A quick check of an SSFSpan that the gateway forwards as it is: true when
 * the bytes are surely a valid trace span without samples or log records,
 * which validateSpan() would accept with no rejection (the common case);
 * then `traceId` holds its trace id (low and high 32 bits, unsigned) and,
 * when it has room for six, the start and end times likewise. It
 * builds no objects: nothing but the trace id is needed to forward the span.
 *
 * False means "not sure", never "invalid": anything this scan does not
 * handle (samples, logs, an empty name, long strings, unknown wire types,
 * malformed bytes, a span that is not a trace) goes through decodeSpan(),
 * which gives the exact answer and every rejection.
 */
export function scanTraceSpan(b: Uint8Array, traceId: Uint32Array): boolean {
  const end = b.length;
  r.reset(b);
  let idSet = false;
  let traceLo = 0;
  let traceHi = 0;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let nameBytes = 0;
  let tags = 0;
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag < 0) return false;
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      switch (field) {
        case 1: // version
        case 7: // error
        case 12: // indicator
          {
            // protobufjs's uint32() (int32, bool) reads 5 bytes and skips 5 more unseen:
            // only varints of at most 5 bytes or exactly 10 are read alike by both.
            const n = r.skipVarint(end);
            if (n < 0 || (n > 5 && n !== 10)) return false;
          }
          break;
        case 2:
          if (!r.varint64(end)) return false;
          traceLo = r.lo;
          traceHi = r.hi;
          break;
        case 3:
          if (!r.varint64(end)) return false;
          idSet = (r.lo | r.hi) !== 0;
          break;
        case 5:
          if (!r.varint64(end)) return false;
          startLo = r.lo;
          startHi = r.hi;
          break;
        case 6:
          if (!r.varint64(end)) return false;
          endLo = r.lo;
          endHi = r.hi;
          break;
        case 8:
        case 10:
        case 11:
        case 13:
        case 100:
        case 101:
        case 0:
          return false;
        default: // parent_id, root_start_timestamp, received_timestamp, trace_id_high, unknown fields
          if (!r.varint64(end)) return false;
      }
    } else if (wire === 2) {
      const next = r.delimited(end);
      if (next < 0) return false;
      const n = next - r.pos;
      switch (field) {
        case 8: // service
        case 101: // tenant
          if (n > NAME_BYTES) return false;
          break;
        case 13: // name
          if (n > NAME_BYTES) return false;
          nameBytes = n;
          break;
        case 11: {
          if (!scanTagEntry(next)) return false;
          if (++tags > LIMITS.tagsPerMap) return false;
          break;
        }
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 6:
        case 7:
        case 10: // samples: the full path (cardinality guard, per-sample refusals)
        case 12:
        case 14:
        case 100: // log records: the full path
        case 102:
        case 103:
          return false;
        default:
          break;
      }
      r.pos = next;
    } else if (wire === 1 || wire === 5) {
      if (field <= 14 || field === 0 || (field >= 100 && field <= 103)) return false;
      if (!r.skip(wire, end)) return false;
    } else {
      return false;
    }
  }
  // Veneur's trace span: id, trace_id, start and end set, a name; ours: end >= start (signed).
  if (!idSet || (traceLo | traceHi) === 0 || (startLo | startHi) === 0 || (endLo | endHi) === 0 || nameBytes === 0) return false;
  if ((endHi | 0) < (startHi | 0) || (endHi === startHi && endLo < startLo)) return false;
  traceId[0] = traceLo;
  traceId[1] = traceHi;
  // Where there is room: the times, for the gateway's window of accepted times.
  if (traceId.length >= 6) {
    traceId[2] = startLo;
    traceId[3] = startHi;
    traceId[4] = endLo;
    traceId[5] = endHi;
  }
  return true;
}
