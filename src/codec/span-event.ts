import type { SpanEvent } from './types.js';

/**
 * Veneur's trace-span criteria: ids, both times and a name, and an end not
 * before the start. What `validateSpan` decides `isTrace` with.
 */
export function isTraceSpan(f: Pick<SpanEvent, 'traceId' | 'id' | 'startTimestamp' | 'endTimestamp' | 'name'>): boolean {
  return f.id !== 0n && f.traceId !== 0n && f.startTimestamp !== 0n && f.endTimestamp !== 0n && f.name !== '' && f.endTimestamp >= f.startTimestamp;
}

/**
 * The one constructor of a SpanEvent: the fields given, every other field at
 * its zero value (as protobuf decodes an absent field), and `isTrace`, unless
 * given, derived by the trace-span criteria.
 */
export function spanEvent(fields: Partial<SpanEvent>): SpanEvent {
  const e: SpanEvent = {
    version: 0,
    traceId: 0n,
    traceIdHigh: 0n,
    id: 0n,
    parentId: 0n,
    startTimestamp: 0n,
    endTimestamp: 0n,
    rootStartTimestamp: 0n,
    error: false,
    service: '',
    name: '',
    indicator: false,
    tags: {},
    metrics: [],
    logs: [],
    tenant: '',
    receivedTimestamp: 0n,
    isTrace: false,
    ...fields,
  };
  if (fields.isTrace === undefined) e.isTrace = isTraceSpan(e);
  return e;
}
