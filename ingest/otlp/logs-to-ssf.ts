import { spanEvent } from '../../src/codec/span-event.js';
import { severityName } from '../../src/codec/validate.js';
import type { LogRecord, SpanEvent } from '../../src/codec/types.js';
import { addAttributes, anyValueString } from './any-value.js';
import type { Conversion, Steps } from './conversion.js';
import { addSpan, emptyConversion, refuse, runSteps, SLICE_ITEMS } from './conversion.js';
import { ExpansionBudget, mapBytes } from './expansion-budget.js';
import type { LogsRequest } from './otlp-messages.js';
import { unsigned64 } from './otlp-messages.js';
import { hexOf, spanIdOf, traceIdOf } from './otlp-ids.js';
import { originOf } from './otlp-origin.js';

/** Log attributes the mapping writes (docs/otlp.md, "Logs"). */
export const SEVERITY_TEXT_ATTRIBUTE = 'otel.severity_text';
export const OBSERVED_TIME_ATTRIBUTE = 'otel.observed_time_unix_nano';
export const EVENT_NAME_ATTRIBUTE = 'otel.event_name';
export const LOG_FLAGS_ATTRIBUTE = 'otel.flags';

/** The SeverityNumber of each short name the OpenTelemetry log data model displays (`INFO`, `INFO2`...), plus Python's `WARNING` and `CRITICAL`. */
const SEVERITY_BASE: ReadonlyMap<string, number> = new Map([
  ['trace', 1],
  ['debug', 5],
  ['info', 9],
  ['warn', 13],
  ['warning', 13],
  ['error', 17],
  ['fatal', 21],
  ['critical', 21],
]);

/**
 * The SeverityNumber a record sent without one (0, UNSPECIFIED) takes from
 * its severity text, as the log data model allows when the text is a known
 * level name (case-insensitive: `ERROR`, `Warn`, `info3`); 0 for any other
 * text. A sender with text alone (`severityText: "ERROR"`) was stored
 * `unspecified`, so a search by severity never found its errors. Both
 * paths (this and logs-direct.ts) map the text with this one function.
 */
export function severityOfText(text: string): number {
  const m = /^([A-Za-z]+)([2-4])?$/.exec(text);
  const name = (m?.[1] ?? '').toLowerCase();
  const base = SEVERITY_BASE.get(name);
  if (base === undefined) return 0;
  if (m?.[2] === undefined) return base;
  // INFO2..INFO4 are the model's names; WARNING2 and CRITICAL2 are not.
  return name === 'warning' || name === 'critical' ? 0 : base + Number(m[2]) - 1;
}

/** Most log records one carrier span holds. */
export const PER_CARRIER = 100;

/**
 * ExportLogsServiceRequest -> SSF carrier spans (not trace spans: no times,
 * no name) holding the log records; consecutive records of one resource and
 * scope with the same trace and span ids share a carrier, whose ids are
 * theirs (SSF correlates a record with the span that carries it). Each
 * record is charged to `budget` (with the resource and scope it copies)
 * before it is built.
 */
export function logsToSsf(request: LogsRequest, budget = ExpansionBudget.unbounded()): Conversion {
  return runSteps(logsSteps(request, budget));
}

/** logsToSsf in slices of SLICE_ITEMS records. */
export function* logsSteps(request: LogsRequest, budget: ExpansionBudget): Steps<Conversion> {
  const c = emptyConversion();
  for (const rl of request.resourceLogs ?? []) {
    for (const sl of rl.scopeLogs ?? []) {
      const origin = originOf(rl.resource, sl.scope);
      const originBytes = mapBytes(origin.tags);
      let carrier: SpanEvent | undefined;
      let items: number[] = [];
      const flush = (): void => {
        if (carrier) addSpan(c, carrier, items, items);
        carrier = undefined;
        items = [];
      };
      for (const r of sl.logRecords ?? []) {
        const item = c.total++;
        if (item > 0 && item % SLICE_ITEMS === 0) yield;
        const trace = traceIdOf(r.traceId);
        const spanId = spanIdOf(r.spanId);
        if (!trace || spanId === undefined) {
          refuse(
            c,
            'OTLP_ERR_BAD_TRACE_ID',
            `log record: trace_id must be 16 bytes and span_id 8 bytes, or both empty (has ${hexOf(r.traceId) || 'none'}/${hexOf(r.spanId) || 'none'})`,
          );
          continue;
        }
        const sentNumber = r.severityNumber ?? 0;
        if (!Number.isInteger(sentNumber) || sentNumber < 0 || sentNumber > 24) {
          refuse(c, 'OTLP_ERR_SEVERITY_UNKNOWN', `log record: severity_number ${sentNumber} is not an OpenTelemetry SeverityNumber (0-24)`);
          continue;
        }
        const severityNumber = sentNumber !== 0 ? sentNumber : severityOfText(r.severityText ?? '');
        budget.take(1, originBytes);
        const attributes: Record<string, string> = { ...origin.tags };
        addAttributes(attributes, r.attributes);
        if (r.severityText) attributes[SEVERITY_TEXT_ATTRIBUTE] = r.severityText;
        const time = unsigned64(r.timeUnixNano);
        const observed = unsigned64(r.observedTimeUnixNano);
        if (observed !== 0n) attributes[OBSERVED_TIME_ATTRIBUTE] = observed.toString();
        if (r.eventName) attributes[EVENT_NAME_ATTRIBUTE] = r.eventName;
        if (r.flags) attributes[LOG_FLAGS_ATTRIBUTE] = String(r.flags);
        if (r.droppedAttributesCount) attributes['otel.dropped_attributes_count'] = String(r.droppedAttributesCount);
        const record: LogRecord = {
          // The specification: use the observed time when the event's own time is unknown.
          timestamp: time !== 0n ? time : observed,
          severity: severityName(severityNumber),
          severityNumber,
          body: anyValueString(r.body),
          attributes,
        };
        if (!carrier || carrier.traceId !== trace.low || carrier.traceIdHigh !== trace.high || carrier.id !== spanId || carrier.logs.length >= PER_CARRIER) {
          flush();
          carrier = spanEvent({ traceId: trace.low, traceIdHigh: trace.high, id: spanId, service: origin.service, isTrace: false });
        }
        carrier.logs.push(record);
        items.push(item);
      }
      flush();
    }
  }
  return c;
}
