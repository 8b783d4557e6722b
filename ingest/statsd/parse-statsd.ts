import { defineErrors } from '../../src/errors/define-errors.js';
import type { LogRecord, LogSeverity, MetricSample, MetricScope, MetricStatus } from '../../src/codec/types.js';
import { LIMITS } from '../../src/codec/validate.js';
import { setTag } from '../../src/codec/tag-map.js';

/**
 * The statsd parser's error catalog. Every refused line carries one of these
 * stable codes (match `code`, never the reason text). docs/errors.md lists
 * them all; a test keeps the two in step. Status 0: refused lines are counted, never answered.
 */
export const StatsdErrors = defineErrors('STATSD', {
  /** The line is not `name:value|type[|section...]`: no `:` or `|`, an empty, repeated or unknown section. */
  STATSD_ERR_SYNTAX: { status: 0, retriable: false, text: 'the line is not a valid statsd metric' },
  /** A metric or service check without a name. */
  STATSD_ERR_NAME_MISSING: { status: 0, retriable: false, text: 'a metric needs a name' },
  /** The type is missing or not one of c, g, ms, h, d, s. */
  STATSD_ERR_TYPE_UNKNOWN: { status: 0, retriable: false, text: 'unknown metric type' },
  /** A value is empty, not a decimal number, or not finite. */
  STATSD_ERR_VALUE: { status: 0, retriable: false, text: 'a metric value must be a finite decimal number within float32 (SSF carries a float)' },
  /** The sample rate is not a number in [0.000001, 1] (the codec's bound, LIMITS.minSampleRate). */
  STATSD_ERR_SAMPLE_RATE: { status: 0, retriable: false, text: 'the sample rate must be in [0.000001, 1]' },
  /** A tag with an empty key (`:value`), or more than 1,024 tags (counting container_id, host, event.*). */
  STATSD_ERR_TAG: { status: 0, retriable: false, text: 'invalid tags' },
  /** A timestamp (`|T`, `d:`) is not a positive whole number of seconds that fits in int64 nanoseconds. */
  STATSD_ERR_TIMESTAMP: { status: 0, retriable: false, text: 'a timestamp must be a positive whole number of unix seconds' },
  /** A malformed event (`_e{...}`): header, lengths that do not match the UTF-8 bytes, or a section. */
  STATSD_ERR_EVENT: { status: 0, retriable: false, text: 'the line is not a valid DogStatsD event' },
  /** A malformed service check (`_sc|...`): status not 0-3, or a repeated or unknown section. */
  STATSD_ERR_SERVICE_CHECK: { status: 0, retriable: false, text: 'the line is not a valid DogStatsD service check' },
  /** A line over 64 KiB, or a name or tag key over 1,024 bytes. */
  STATSD_ERR_TOO_LONG: { status: 0, retriable: false, text: 'a line, name or tag key is longer than its limit' },
});

export type StatsdErrorCode = (typeof StatsdErrors.codes)[number];

/** Limits applied per line; names and tag keys match the codec's (docs/ssf.md). */
export const STATSD_LIMITS = {
  /** UTF-8 bytes of one line, `\r` excluded. Larger than any UDP payload (65,507 bytes). */
  lineBytes: 64 * 1024,
  /** UTF-8 bytes of a metric or service check name. */
  nameBytes: 1024,
  tagKeyBytes: 1024,
  tagsPerLine: 1024,
  /** A rejection's `text` is the refused line cut to this many characters. */
  rejectedTextChars: 1024,
} as const;

/** One refused line. */
export interface StatsdRejection {
  /** 0-based index of the line in the datagram (empty lines count). */
  line: number;
  code: StatsdErrorCode;
  reason: string;
  /** The line, cut to {@link STATSD_LIMITS.rejectedTextChars} characters. */
  text: string;
}

export interface StatsdParseResult {
  /** Samples from metric lines and service checks (a service check is a STATUS sample). */
  samples: MetricSample[];
  /** Events (`_e{...}`) become log records. */
  logs: LogRecord[];
  /** One per refused line: the 0-based line index in the datagram, a stable code, and the reason. */
  rejections: StatsdRejection[];
}

/**
 * Parses one statsd / DogStatsD datagram (lines separated by `\n` or `\r\n`)
 * into SSF samples and log records. Pure and synchronous; never throws on
 * input. Each line is accepted or refused on its own. Samples and logs
 * without an explicit timestamp get `receivedNs`. The mapping and what we
 * accept beyond Veneur are in docs/ssf.md ("statsd and DogStatsD").
 */
export function parseStatsdPacket(packet: Buffer | string, receivedNs: bigint): StatsdParseResult {
  // Decoding once and slicing is much cheaper than a Buffer#toString per field.
  // Invalid UTF-8 becomes U+FFFD (and then fails an event's byte lengths).
  const text = typeof packet === 'string' ? packet : packet.toString('utf8');
  const out: StatsdParseResult = { samples: [], logs: [], rejections: [] };
  const n = text.length;
  let start = 0;
  let index = 0;
  while (start < n) {
    let nl = text.indexOf('\n', start);
    if (nl === -1) nl = n;
    let end = nl;
    if (end > start && text.charCodeAt(end - 1) === CR) end--;
    if (end > start) parseLine(text.slice(start, end), index, receivedNs, out);
    start = nl + 1;
    index++;
  }
  return out;
}

const CR = 13;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const COLON = 58;
const AT = 64;
const HASH = 35;
const PIPE = 124;
const UNDERSCORE = 95;
const LOWER_E = 101;
const UPPER_E = 69;
const UPPER_T = 84;

/** A line-level refusal. Thrown inside this module only (never an Error: no stack is needed). */
class Refusal {
  constructor(
    readonly code: StatsdErrorCode,
    readonly reason: string,
  ) {}
}

function refuse(code: StatsdErrorCode, reason: string): never {
  throw new Refusal(code, reason);
}

function repeated(code: StatsdErrorCode, what: string): never {
  throw new Refusal(code, `more than one ${what}`);
}

function parseLine(line: string, index: number, receivedNs: bigint, out: StatsdParseResult): void {
  try {
    if (line.length * 3 > STATSD_LIMITS.lineBytes && Buffer.byteLength(line) > STATSD_LIMITS.lineBytes) {
      refuse('STATSD_ERR_TOO_LONG', `the line is longer than ${STATSD_LIMITS.lineBytes} bytes`);
    }
    if (line.charCodeAt(0) === UNDERSCORE) {
      if (line.startsWith('_e{')) {
        out.logs.push(parseEvent(line, receivedNs));
        return;
      }
      if (line.startsWith('_sc|')) {
        out.samples.push(parseServiceCheck(line, receivedNs));
        return;
      }
    }
    parseMetric(line, receivedNs, out.samples);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    out.rejections.push({ line: index, code: err.code, reason: err.reason, text: line.slice(0, STATSD_LIMITS.rejectedTextChars) });
  }
}

// --- metrics ---------------------------------------------------------------

function parseMetric(line: string, receivedNs: bigint, samples: MetricSample[]): void {
  const pipe = line.indexOf('|');
  const colon = line.indexOf(':');
  if (colon === -1 || (pipe !== -1 && colon > pipe)) refuse('STATSD_ERR_SYNTAX', 'expected name:value|type (no ":" after the name)');
  if (pipe === -1) refuse('STATSD_ERR_SYNTAX', 'expected name:value|type (no "|" before the type)');
  if (colon === 0) refuse('STATSD_ERR_NAME_MISSING', 'the metric name is empty');
  const name = line.slice(0, colon);
  checkName(name);

  let typeEnd = line.indexOf('|', pipe + 1);
  if (typeEnd === -1) typeEnd = line.length;
  const kind = metricKind(line, pipe + 1, typeEnd);

  let sampleRate = 1;
  let timestamp = receivedNs;
  let tags: Record<string, string> | undefined;
  let scope: MetricScope | undefined;
  let tagChars = 0;
  let containerId: string | undefined;
  let seenRate = false;
  let seenTime = false;
  let pos = typeEnd;
  while (pos < line.length) {
    const s = pos + 1;
    let e = line.indexOf('|', s);
    if (e === -1) e = line.length;
    if (e === s) refuse('STATSD_ERR_SYNTAX', 'empty section between "|"');
    const c = line.charCodeAt(s);
    if (c === AT) {
      if (seenRate) repeated('STATSD_ERR_SYNTAX', 'sample rate');
      seenRate = true;
      sampleRate = parseNumber(line, s + 1, e);
      if (!(Math.fround(sampleRate) >= LIMITS.minSampleRate && sampleRate <= 1))
        refuse('STATSD_ERR_SAMPLE_RATE', `sample rate ${quote(line, s + 1, e)} is not in [0.000001, 1]`);
    } else if (c === HASH) {
      if (tags !== undefined) repeated('STATSD_ERR_SYNTAX', 'tag section');
      tags = {};
      tagChars = e - s - 1;
      scope = parseTags(line, s + 1, e, tags, true);
    } else if (c === UPPER_T) {
      if (seenTime) repeated('STATSD_ERR_SYNTAX', 'timestamp');
      seenTime = true;
      timestamp = parseSeconds(line, s + 1, e);
    } else if (isField(line, s, e, 'c:')) {
      if (containerId !== undefined) repeated('STATSD_ERR_SYNTAX', 'container id');
      containerId = containerIdOf(line, s, e, 'STATSD_ERR_SYNTAX');
    } else if (!isIgnoredField(line, s, e)) {
      refuse('STATSD_ERR_SYNTAX', `unknown section ${quote(line, s, e)}`);
    }
    pos = e;
  }

  if (tags === undefined) tags = {};
  if (containerId !== undefined) {
    setTag(tags, 'container_id', containerId);
    checkTagCount(tags, tagChars);
  }
  scope ??= kind === KIND_DISTRIBUTION ? 'global' : 'default';
  const type = METRIC_TYPE[kind] as MetricSample['type'];
  const unit = kind === KIND_TIMER ? 'ms' : '';

  const valueStart = colon + 1;
  if (kind === KIND_SET) {
    // A set member is taken verbatim, ":" included (DogStatsD packs no set values).
    if (valueStart === pipe) refuse('STATSD_ERR_VALUE', 'the set member is empty');
    samples.push(sample('set', name, 0, timestamp, line.slice(valueStart, pipe), 'ok', sampleRate, tags, unit, scope));
    return;
  }

  const firstEnd = line.indexOf(':', valueStart);
  if (firstEnd === -1 || firstEnd > pipe) {
    samples.push(sample(type, name, parseValue(line, valueStart, pipe), timestamp, '', 'ok', sampleRate, tags, unit, scope));
    return;
  }
  // DogStatsD 1.1 packed values: name:1:2:3|h. Parse all before keeping any.
  const values: number[] = [];
  let s = valueStart;
  while (s <= pipe) {
    let e = line.indexOf(':', s);
    if (e === -1 || e > pipe) e = pipe;
    values.push(parseValue(line, s, e));
    s = e + 1;
  }
  for (let i = 0; i < values.length; i++) {
    samples.push(sample(type, name, values[i] as number, timestamp, '', 'ok', sampleRate, i === 0 ? tags : { ...tags }, unit, scope));
  }
}

const KIND_COUNTER = 0;
const KIND_GAUGE = 1;
const KIND_TIMER = 2;
const KIND_HISTOGRAM = 3;
const KIND_DISTRIBUTION = 4;
const KIND_SET = 5;
const METRIC_TYPE: readonly MetricSample['type'][] = ['counter', 'gauge', 'histogram', 'histogram', 'histogram', 'set'];

function metricKind(line: string, s: number, e: number): number {
  if (e - s === 1) {
    switch (line.charCodeAt(s)) {
      case 99:
        return KIND_COUNTER; // c
      case 103:
        return KIND_GAUGE; // g
      case 104:
        return KIND_HISTOGRAM; // h
      case 100:
        return KIND_DISTRIBUTION; // d
      case 115:
        return KIND_SET; // s
    }
  } else if (e - s === 2 && line.charCodeAt(s) === 109 && line.charCodeAt(s + 1) === 115) {
    return KIND_TIMER; // ms
  }
  return refuse('STATSD_ERR_TYPE_UNKNOWN', s === e ? 'the metric type is missing' : `metric type ${quote(line, s, e)} is not one of c, g, ms, h, d, s`);
}

/**
 * A value of a counter, gauge, timer, histogram or distribution. A gauge's
 * leading sign is part of the number: `-5` and `+5` are the values -5 and 5,
 * as in DogStatsD and Veneur (etsy statsd's "gauge delta" is not supported).
 */
function parseValue(line: string, s: number, e: number): number {
  if (s === e) refuse('STATSD_ERR_VALUE', 'the value is empty');
  const v = parseNumber(line, s, e);
  // SSF carries a float: a value past float32 (3.4e38) would travel as Infinity.
  if (!Number.isFinite(Math.fround(v))) refuse('STATSD_ERR_VALUE', `value ${quote(line, s, e)} is not a finite decimal number within float32`);
  return v;
}

/**
 * A decimal number: `[+-]digits[.digits][(e|E)[+-]digits]`, with digits on at
 * least one side of the point. NaN when it is not one (no hex, no "Infinity",
 * no spaces: Number() alone would accept those). Never returns -0.
 */
function parseNumber(line: string, s: number, e: number): number {
  let i = s;
  const sign = line.charCodeAt(i);
  const negative = sign === MINUS;
  if (negative || sign === PLUS) i++;
  // Fast path: up to 15 digits and nothing else is exact in a double.
  const digits = i;
  let v = 0;
  while (i < e) {
    const d = line.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    i++;
  }
  if (i === e && i > digits && i - digits <= 15) return negative && v !== 0 ? -v : v;

  let mantissa = i - digits;
  if (i < e && line.charCodeAt(i) === DOT) {
    i++;
    const f = i;
    while (i < e && isDigit(line.charCodeAt(i))) i++;
    mantissa += i - f;
  }
  if (mantissa === 0) return Number.NaN;
  if (i < e && (line.charCodeAt(i) === LOWER_E || line.charCodeAt(i) === UPPER_E)) {
    i++;
    if (i < e && (line.charCodeAt(i) === PLUS || line.charCodeAt(i) === MINUS)) i++;
    const x = i;
    while (i < e && isDigit(line.charCodeAt(i))) i++;
    if (i === x) return Number.NaN;
  }
  if (i !== e) return Number.NaN;
  const n = Number(line.slice(s, e));
  return n === 0 ? 0 : n;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= ZERO + 9;
}

/** The largest whole second whose nanoseconds fit in int64 (2262-04-11). */
const MAX_SECONDS = 9_223_372_036;

/** Unix seconds (`|T...`, `d:...`) -> ns. */
function parseSeconds(line: string, s: number, e: number): bigint {
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = line.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9 || v > MAX_SECONDS) {
      v = -1;
      break;
    }
    v = v * 10 + d;
  }
  if (s === e || v <= 0 || v > MAX_SECONDS) {
    refuse('STATSD_ERR_TIMESTAMP', `timestamp ${quote(line, s, e)} is not a positive whole number of unix seconds up to ${MAX_SECONDS}`);
  }
  return BigInt(v) * 1_000_000_000n;
}

// --- tags ------------------------------------------------------------------

/**
 * Fills `tags` from `a:b,c` (a tag without a value gets ""; a repeated key:
 * the last wins; empty tags between commas are skipped). With `magic`, the
 * tags `veneurlocalonly` / `veneurglobalonly` (whatever their value) are
 * removed and give the scope; the first one wins, as in Veneur.
 */
function parseTags(line: string, s: number, e: number, tags: Record<string, string>, magic: boolean): MetricScope | undefined {
  let scope: MetricScope | undefined;
  let count = 0;
  let start = s;
  let colon = -1;
  // One pass over the section: a search for ":" per tag could run far past its comma.
  for (let i = s; i <= e; i++) {
    const c = i === e ? COMMA : line.charCodeAt(i);
    if (c === COLON) {
      if (colon === -1) colon = i;
      continue;
    }
    if (c !== COMMA) continue;
    if (i > start) {
      if (++count > STATSD_LIMITS.tagsPerLine) refuse('STATSD_ERR_TAG', `more than ${STATSD_LIMITS.tagsPerLine} tags`);
      if (colon === start) refuse('STATSD_ERR_TAG', `tag ${quote(line, start, i)} has an empty key`);
      const key = line.slice(start, colon === -1 ? i : colon);
      const value = colon === -1 ? '' : line.slice(colon + 1, i);
      if (key.length * 3 > STATSD_LIMITS.tagKeyBytes && Buffer.byteLength(key) > STATSD_LIMITS.tagKeyBytes) {
        refuse('STATSD_ERR_TOO_LONG', `a tag key is longer than ${STATSD_LIMITS.tagKeyBytes} bytes`);
      }
      if (magic && key === 'veneurlocalonly') scope ??= 'local';
      else if (magic && key === 'veneurglobalonly') scope ??= 'global';
      else setTag(tags, key, value);
    }
    start = i + 1;
    colon = -1;
  }
  return scope;
}

/** The most keys we add to a line's tags: event.title, event.priority, event.alert_type, ... container_id. */
const MAX_DERIVED_KEYS = 8;

/**
 * Refuses a map that goes over the limit once our own keys (container_id,
 * host, event.*) are added, so that the result passes the codec's limits.
 */
function checkTagCount(tags: Record<string, string>, tagChars: number): void {
  // k tags take at least 2k - 1 characters: a shorter section cannot come near the limit.
  if (tagChars < 2 * (STATSD_LIMITS.tagsPerLine - MAX_DERIVED_KEYS)) return;
  if (Object.keys(tags).length > STATSD_LIMITS.tagsPerLine) {
    refuse('STATSD_ERR_TAG', `more than ${STATSD_LIMITS.tagsPerLine} tags once container_id, host or event fields are added`);
  }
}

// --- events ----------------------------------------------------------------

const ALERT_SEVERITY: Readonly<Record<string, [LogSeverity, number]>> = {
  error: ['error', 17],
  warning: ['warn', 13],
  info: ['info', 9],
  success: ['info', 9],
};

/** `_e{<title bytes>,<text bytes>}:<title>|<text>|d:|h:|k:|p:|s:|t:|#tags|c:` -> a log record. */
function parseEvent(line: string, receivedNs: bigint): LogRecord {
  const comma = line.indexOf(',', 3);
  const close = line.indexOf('}', 3);
  if (comma === -1 || close === -1 || comma > close || line.charCodeAt(close + 1) !== COLON) {
    refuse('STATSD_ERR_EVENT', 'expected _e{<title length>,<text length>}:<title>|<text>');
  }
  const titleBytes = parseLength(line, 3, comma);
  const textBytes = parseLength(line, comma + 1, close);
  if (titleBytes === 0) refuse('STATSD_ERR_EVENT', 'the event title is empty');

  // The lengths are UTF-8 bytes, so a title or text may hold "|".
  const titleStart = close + 2;
  const titleEnd = advanceUtf8(line, titleStart, titleBytes);
  if (titleEnd === -1 || line.charCodeAt(titleEnd) !== PIPE) {
    refuse('STATSD_ERR_EVENT', `the title is not ${titleBytes} UTF-8 bytes followed by "|"`);
  }
  const textStart = titleEnd + 1;
  const textEnd = advanceUtf8(line, textStart, textBytes);
  if (textEnd === -1 || (textEnd < line.length && line.charCodeAt(textEnd) !== PIPE)) {
    refuse('STATSD_ERR_EVENT', `the text is not ${textBytes} UTF-8 bytes followed by "|" or the end of the line`);
  }
  const title = line.slice(titleStart, titleEnd);
  const text = unescapeNewlines(line.slice(textStart, textEnd));

  let timestamp = receivedNs;
  let seenTime = false;
  let host: string | undefined;
  let aggregationKey: string | undefined;
  let priority: string | undefined;
  let sourceType: string | undefined;
  let alertType: string | undefined;
  let containerId: string | undefined;
  let attributes: Record<string, string> | undefined;
  let tagChars = 0;
  let pos = textEnd;
  while (pos < line.length) {
    const s = pos + 1;
    let e = line.indexOf('|', s);
    if (e === -1) e = line.length;
    if (e === s) refuse('STATSD_ERR_EVENT', 'empty section between "|"');
    if (line.charCodeAt(s) === HASH) {
      if (attributes !== undefined) repeated('STATSD_ERR_EVENT', 'tag section');
      attributes = {};
      tagChars = e - s - 1;
      parseTags(line, s + 1, e, attributes, false);
    } else if (isField(line, s, e, 'd:')) {
      if (seenTime) repeated('STATSD_ERR_EVENT', 'date');
      seenTime = true;
      timestamp = parseSeconds(line, s + 2, e);
    } else if (isField(line, s, e, 'h:')) {
      if (host !== undefined) repeated('STATSD_ERR_EVENT', 'hostname');
      host = line.slice(s + 2, e);
    } else if (isField(line, s, e, 'k:')) {
      if (aggregationKey !== undefined) repeated('STATSD_ERR_EVENT', 'aggregation key');
      aggregationKey = line.slice(s + 2, e);
    } else if (isField(line, s, e, 'p:')) {
      if (priority !== undefined) repeated('STATSD_ERR_EVENT', 'priority');
      priority = line.slice(s + 2, e);
      if (priority !== 'normal' && priority !== 'low') refuse('STATSD_ERR_EVENT', `priority ${quote(line, s + 2, e)} is not normal or low`);
    } else if (isField(line, s, e, 's:')) {
      if (sourceType !== undefined) repeated('STATSD_ERR_EVENT', 'source type');
      sourceType = line.slice(s + 2, e);
    } else if (isField(line, s, e, 't:')) {
      if (alertType !== undefined) repeated('STATSD_ERR_EVENT', 'alert type');
      alertType = line.slice(s + 2, e);
      if (ALERT_SEVERITY[alertType] === undefined) refuse('STATSD_ERR_EVENT', `alert type ${quote(line, s + 2, e)} is not error, warning, info or success`);
    } else if (isField(line, s, e, 'c:')) {
      if (containerId !== undefined) repeated('STATSD_ERR_EVENT', 'container id');
      containerId = containerIdOf(line, s, e, 'STATSD_ERR_EVENT');
    } else if (!isIgnoredField(line, s, e)) {
      refuse('STATSD_ERR_EVENT', `unknown section ${quote(line, s, e)}`);
    }
    pos = e;
  }

  // Our fields are set after the tags: they win over a tag of the same name.
  attributes ??= {};
  attributes['event.title'] = title;
  attributes['event.priority'] = priority ?? 'normal';
  attributes['event.alert_type'] = alertType ?? 'info';
  if (aggregationKey !== undefined) attributes['event.aggregation_key'] = aggregationKey;
  if (sourceType !== undefined) attributes['event.source_type'] = sourceType;
  if (host !== undefined) attributes['host'] = host;
  if (containerId !== undefined) attributes['container_id'] = containerId;
  checkTagCount(attributes, tagChars);
  const [severity, severityNumber] = ALERT_SEVERITY[alertType ?? 'info'] as [LogSeverity, number];
  return {
    timestamp,
    severity,
    severityNumber,
    body: text === '' ? title : `${title}\n${text}`,
    attributes,
  };
}

function parseLength(line: string, s: number, e: number): number {
  // 6 digits are more than enough for a 64 KiB line.
  if (s === e || e - s > 6) refuse('STATSD_ERR_EVENT', `length ${quote(line, s, e)} is not a whole number`);
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = line.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) refuse('STATSD_ERR_EVENT', `length ${quote(line, s, e)} is not a whole number`);
    v = v * 10 + d;
  }
  return v;
}

/** The index after `bytes` UTF-8 bytes from `i`, or -1 if the line is shorter or a character straddles the end. */
function advanceUtf8(line: string, i: number, bytes: number): number {
  let left = bytes;
  while (left > 0) {
    if (i >= line.length) return -1;
    const c = line.charCodeAt(i);
    if (c < 0x80) left -= 1;
    else if (c < 0x800) left -= 2;
    else if (c >= 0xd800 && c <= 0xdbff && (line.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      left -= 4;
      i++;
    } else left -= 3; // BMP, or a lone surrogate (written as U+FFFD, 3 bytes)
    i++;
  }
  return left === 0 ? i : -1;
}

function unescapeNewlines(s: string): string {
  return s.includes('\\n') ? s.replaceAll('\\n', '\n') : s;
}

// --- service checks --------------------------------------------------------

const CHECK_STATUS: readonly MetricStatus[] = ['ok', 'warning', 'critical', 'unknown'];

/** `_sc|<name>|<status>|d:|h:|#tags|c:|m:<message>` -> a STATUS sample. */
function parseServiceCheck(line: string, receivedNs: bigint): MetricSample {
  const nameEnd = line.indexOf('|', 4);
  if (nameEnd === -1) refuse('STATSD_ERR_SERVICE_CHECK', 'expected _sc|<name>|<status>');
  if (nameEnd === 4) refuse('STATSD_ERR_NAME_MISSING', 'the service check name is empty');
  const name = line.slice(4, nameEnd);
  checkName(name);
  let statusEnd = line.indexOf('|', nameEnd + 1);
  if (statusEnd === -1) statusEnd = line.length;
  const digit = line.charCodeAt(nameEnd + 1) - ZERO;
  if (statusEnd !== nameEnd + 2 || !(digit >= 0 && digit <= 3)) {
    refuse('STATSD_ERR_SERVICE_CHECK', `status ${quote(line, nameEnd + 1, statusEnd)} is not 0, 1, 2 or 3`);
  }

  let timestamp = receivedNs;
  let seenTime = false;
  let host: string | undefined;
  let containerId: string | undefined;
  let message = '';
  let tags: Record<string, string> | undefined;
  let scope: MetricScope | undefined;
  let tagChars = 0;
  let pos = statusEnd;
  while (pos < line.length) {
    const s = pos + 1;
    if (isField(line, s, line.length, 'm:')) {
      // The message is the last section (DogStatsD): it runs to the end of the line, "|" included.
      message = unescapeNewlines(line.slice(s + 2));
      break;
    }
    let e = line.indexOf('|', s);
    if (e === -1) e = line.length;
    if (e === s) refuse('STATSD_ERR_SERVICE_CHECK', 'empty section between "|"');
    if (line.charCodeAt(s) === HASH) {
      if (tags !== undefined) repeated('STATSD_ERR_SERVICE_CHECK', 'tag section');
      tags = {};
      tagChars = e - s - 1;
      scope = parseTags(line, s + 1, e, tags, true);
    } else if (isField(line, s, e, 'd:')) {
      if (seenTime) repeated('STATSD_ERR_SERVICE_CHECK', 'date');
      seenTime = true;
      timestamp = parseSeconds(line, s + 2, e);
    } else if (isField(line, s, e, 'h:')) {
      if (host !== undefined) repeated('STATSD_ERR_SERVICE_CHECK', 'hostname');
      host = line.slice(s + 2, e);
    } else if (isField(line, s, e, 'c:')) {
      if (containerId !== undefined) repeated('STATSD_ERR_SERVICE_CHECK', 'container id');
      containerId = containerIdOf(line, s, e, 'STATSD_ERR_SERVICE_CHECK');
    } else if (!isIgnoredField(line, s, e)) {
      refuse('STATSD_ERR_SERVICE_CHECK', `unknown section ${quote(line, s, e)}`);
    }
    pos = e;
  }
  tags ??= {};
  if (host !== undefined) setTag(tags, 'host', host);
  if (containerId !== undefined) setTag(tags, 'container_id', containerId);
  checkTagCount(tags, tagChars);
  return sample('status', name, 0, timestamp, message, CHECK_STATUS[digit] as MetricStatus, 1, tags, '', scope ?? 'default');
}

// --- shared ----------------------------------------------------------------

function sample(
  type: MetricSample['type'],
  name: string,
  value: number,
  timestamp: bigint,
  message: string,
  status: MetricStatus,
  sampleRate: number,
  tags: Record<string, string>,
  unit: string,
  scope: MetricScope,
): MetricSample {
  return { type, name, value, timestamp, message, status, sampleRate, tags, unit, scope };
}

function checkName(name: string): void {
  if (name.length * 3 > STATSD_LIMITS.nameBytes && Buffer.byteLength(name) > STATSD_LIMITS.nameBytes) {
    refuse('STATSD_ERR_TOO_LONG', `the name is longer than ${STATSD_LIMITS.nameBytes} bytes`);
  }
}

/** The value of a `c:` section (DogStatsD 1.2 container id), kept verbatim. */
function containerIdOf(line: string, s: number, e: number, code: StatsdErrorCode): string {
  if (e === s + 2) refuse(code, 'the container id is empty');
  return line.slice(s + 2, e);
}

/** Whether line[s, e) starts with `prefix` (a two-character `x:` field). */
function isField(line: string, s: number, e: number, prefix: string): boolean {
  return e - s >= 2 && line.charCodeAt(s) === prefix.charCodeAt(0) && line.charCodeAt(s + 1) === prefix.charCodeAt(1);
}

/**
 * DogStatsD origin-detection fields that carry nothing for us: `e:` (external
 * data, 1.4) and `card:` (tag cardinality). hot-shots sends them in Datadog mode.
 */
function isIgnoredField(line: string, s: number, e: number): boolean {
  return isField(line, s, e, 'e:') || (e - s >= 5 && line.startsWith('card:', s));
}

/** A piece of the input for a reason, cut short: reasons stay readable in logs. */
function quote(line: string, s: number, e: number): string {
  const max = 64;
  return JSON.stringify(e - s > max ? `${line.slice(s, s + max)}…` : line.slice(s, e));
}
