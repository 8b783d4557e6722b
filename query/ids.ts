import { queryError } from './query-errors.js';

/**
 * SSF ids are signed 64-bit integers (ClickHouse Int64). The API accepts an
 * id as written anywhere in the pipeline: decimal (possibly negative, as
 * Veneur prints it), 16 hex digits, or a W3C 32-hex-digit trace id (its low
 * 64 bits, as the emitter maps traceparent; the high half when the low is 0;
 * traceIdHighOf gives the high 64 bits a lookup also matches).
 * Answers give the decimal (a string: JSON numbers lose precision) and
 * `*_hex`, 16 hex digits of the same bits, and trace ids also as
 * `trace_id_128` (hexTraceId128).
 */
export function parseId(text: string, what = 'id'): bigint {
  return idReadings(text, what)[0] as bigint;
}

/**
 * Every reading of an id, the likelier first. Exactly 16 digits is both a
 * hex id (what `*_hex` fields hold, so it is read as hex first) and a
 * decimal one (about 1 in 2,000 random ids has 16 decimal digits): a lookup
 * by id tries both, in this order.
 */
export function idReadings(text: string, what = 'id'): bigint[] {
  const t = text.trim();
  if (/^\d{16}$/.test(t)) {
    const hex = BigInt.asIntN(64, BigInt(`0x${t}`));
    const decimal = BigInt(t);
    return t.startsWith('0') ? [hex] : [hex, decimal];
  }
  return [parseOne(t, text, what)];
}

function parseOne(t: string, text: string, what: string): bigint {
  if (/^-?\d{1,20}$/.test(t)) {
    const v = BigInt(t);
    if (v >= -(2n ** 63n) && v < 2n ** 64n) return BigInt.asIntN(64, v);
  }
  if (/^(0x)?[0-9a-fA-F]{16}$/.test(t)) return BigInt.asIntN(64, BigInt(`0x${t.replace(/^0x/, '')}`));
  if (/^(0x)?[0-9a-fA-F]{32}$/.test(t)) {
    const h = t.slice(-32);
    const low = BigInt(`0x${h.slice(16)}`);
    return BigInt.asIntN(64, low !== 0n ? low : BigInt(`0x${h.slice(0, 16)}`));
  }
  throw queryError(
    'QUERY_ERR_BAD_REQUEST',
    `${what} "${text.slice(0, 64)}" is not an SSF id: give a decimal 64-bit integer, 16 hex digits or a 32-hex-digit W3C trace id`,
  );
}

/**
 * The high 64 bits a 32-hex-digit trace id names (OTLP, W3C: stored in
 * `trace_id_high`), as signed Int64; undefined for every other form of id,
 * and when the low half is zero (then the high half is the SSF id, as above).
 */
export function traceIdHighOf(text: string): bigint | undefined {
  const t = text.trim();
  if (!/^(0x)?[0-9a-fA-F]{32}$/.test(t)) return undefined;
  const h = t.slice(-32);
  if (BigInt(`0x${h.slice(16)}`) === 0n) return undefined;
  return BigInt.asIntN(64, BigInt(`0x${h.slice(0, 16)}`));
}

/** The 128-bit trace id as 32 hex digits (OTLP, W3C): the high 64 bits then the low. */
export function hexTraceId128(low: bigint | string, high: bigint | string): string {
  return hexId(high) + hexId(low);
}

/** 16 hex digits of the id's 64 bits. */
export function hexId(id: bigint | string): string {
  return BigInt.asUintN(64, BigInt(id)).toString(16).padStart(16, '0');
}
