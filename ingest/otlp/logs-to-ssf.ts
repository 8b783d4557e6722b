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
        const severityNumber = r.severityNumber ?? 0;
        if (!Number.isInteger(severityNumber) || severityNumber < 0 || severityNumber > 24) {
          refuse(c, 'OTLP_ERR_SEVERITY_UNKNOWN', `log record: severity_number ${severityNumber} is not an OpenTelemetry SeverityNumber (0-24)`);
          continue;
        }
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
