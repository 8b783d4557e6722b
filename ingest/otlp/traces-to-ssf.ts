import { spanEvent } from '../../src/codec/span-event.js';
import type { LogRecord } from '../../src/codec/types.js';
import { addAttributes } from './any-value.js';
import type { Conversion, Steps } from './conversion.js';
import { addSpan, emptyConversion, refuse, runSteps, SLICE_ITEMS } from './conversion.js';
import { ExpansionBudget, mapBytes } from './expansion-budget.js';
import type { TracesRequest } from './otlp-messages.js';
import { unsigned64 } from './otlp-messages.js';
import { hexOf, spanIdOf, traceIdOf } from './otlp-ids.js';
import { originOf } from './otlp-origin.js';

/** Span kinds and status codes as the Collector's ClickHouse exporter writes them (SpanKind, StatusCode columns). */
export const SPAN_KINDS = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'] as const;
export const STATUS_CODES = ['Unset', 'Ok', 'Error'] as const;

/**
 * Whether an OTLP span of this kind is an SSF indicator span: SERVER and
 * CONSUMER spans, the work a service does for a request or a message
 * received, which is what Veneur's indicator spans mark (a service's SLI:
 * GET /v1/slo, the rollups' ssf.indicator.duration and, per span name,
 * ssf.objective.duration). Other kinds are the service's own steps and its
 * calls out (docs/otlp.md, "Traces").
 */
export function indicatorKind(kind: number): boolean {
  return kind === 2 || kind === 5;
}

/** Span tags the mapping writes (docs/otlp.md, "Traces"). */
export const SPAN_KIND_TAG = 'otel.span_kind';
export const STATUS_CODE_TAG = 'otel.status_code';
export const STATUS_MESSAGE_TAG = 'otel.status_message';
export const TRACE_STATE_TAG = 'otel.trace_state';
export const LINKS_TAG = 'otel.links';
/** A span event, stored as one of the span's log records, has this attribute. */
export const SPAN_EVENT_ATTRIBUTE = 'otel.span_event';

/**
 * ExportTraceServiceRequest -> SSF trace spans: one SSF span per OTLP span,
 * with all 128 bits of its trace id (trace_id + trace_id_high). Resource and
 * scope attributes go into the tags under their prefixes (otlp-origin.ts),
 * events become the span's log records, links a JSON tag. Each span is
 * charged to `budget` (its events, and the resource and scope it copies)
 * before it is built.
 */
export function tracesToSsf(request: TracesRequest, budget = ExpansionBudget.unbounded()): Conversion {
  return runSteps(tracesSteps(request, budget));
}

/** tracesToSsf in slices of SLICE_ITEMS spans. */
export function* tracesSteps(request: TracesRequest, budget: ExpansionBudget): Steps<Conversion> {
  const c = emptyConversion();
  for (const rs of request.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      const origin = originOf(rs.resource, ss.scope);
      const originBytes = mapBytes(origin.tags);
      for (const s of ss.spans ?? []) {
        const item = c.total++;
        if (item > 0 && item % SLICE_ITEMS === 0) yield;
        const trace = traceIdOf(s.traceId);
        const id = spanIdOf(s.spanId);
        const parent = spanIdOf(s.parentSpanId);
        if (!trace || trace.low === 0n) {
          refuse(
            c,
            'OTLP_ERR_BAD_TRACE_ID',
            `span ${JSON.stringify(s.name ?? '')}: trace_id must be 16 bytes, not all zero in its low 8 bytes (has ${hexOf(s.traceId) || 'none'})`,
          );
          continue;
        }
        if (id === undefined || id === 0n || parent === undefined) {
          refuse(c, 'OTLP_ERR_BAD_SPAN_ID', `span ${JSON.stringify(s.name ?? '')}: span_id and parent_span_id must be 8 bytes (span_id not zero)`);
          continue;
        }
        budget.take(1 + (s.events?.length ?? 0), originBytes);
        const tags: Record<string, string> = { ...origin.tags };
        addAttributes(tags, s.attributes);
        const kind = s.kind ?? 0;
        if (kind !== 0) {
          const name = SPAN_KINDS[kind];
          if (name === undefined) c.unknownEnums++;
          tags[SPAN_KIND_TAG] = name ?? String(kind);
        }
        const code = s.status?.code ?? 0;
        if (code !== 0) {
          const name = STATUS_CODES[code];
          if (name === undefined) c.unknownEnums++;
          tags[STATUS_CODE_TAG] = name ?? String(code);
        }
        if (s.status?.message) tags[STATUS_MESSAGE_TAG] = s.status.message;
        if (s.traceState) tags[TRACE_STATE_TAG] = s.traceState;
        if (s.links && s.links.length > 0) {
          tags[LINKS_TAG] = JSON.stringify(
            s.links.map((l) => {
              const attributes: Record<string, string> = {};
              addAttributes(attributes, l.attributes);
              return { trace_id: hexOf(l.traceId), span_id: hexOf(l.spanId), trace_state: l.traceState ?? '', attributes };
            }),
          );
        }
        if (s.droppedAttributesCount) tags['otel.dropped_attributes_count'] = String(s.droppedAttributesCount);
        if (s.droppedEventsCount) tags['otel.dropped_events_count'] = String(s.droppedEventsCount);
        if (s.droppedLinksCount) tags['otel.dropped_links_count'] = String(s.droppedLinksCount);
        const logs: LogRecord[] = (s.events ?? []).map((e) => {
          const attributes: Record<string, string> = { [SPAN_EVENT_ATTRIBUTE]: 'true' };
          addAttributes(attributes, e.attributes);
          return { timestamp: unsigned64(e.timeUnixNano), severity: 'unspecified', severityNumber: 0, body: e.name ?? '', attributes };
        });
        addSpan(
          c,
          spanEvent({
            traceId: trace.low,
            traceIdHigh: trace.high,
            id,
            parentId: parent,
            startTimestamp: unsigned64(s.startTimeUnixNano),
            endTimestamp: unsigned64(s.endTimeUnixNano),
            error: code === 2,
            indicator: indicatorKind(kind),
            service: origin.service,
            name: s.name ?? '',
            tags,
            logs,
          }),
          [item],
        );
      }
    }
  }
  return c;
}
