import { opentelemetry } from './generated/otlp.js';

/** The generated OTLP message classes (schema/otlp/otlp.proto). */
const p = opentelemetry.proto;
export const ExportTraceServiceRequest = p.ExportTraceServiceRequest;
export const ExportTraceServiceResponse = p.ExportTraceServiceResponse;
export const ExportLogsServiceRequest = p.ExportLogsServiceRequest;
export const ExportLogsServiceResponse = p.ExportLogsServiceResponse;
export const ExportMetricsServiceRequest = p.ExportMetricsServiceRequest;
export const ExportMetricsServiceResponse = p.ExportMetricsServiceResponse;
export const RpcStatus = p.RpcStatus;

export type TracesRequest = opentelemetry.proto.ExportTraceServiceRequest;
export type LogsRequest = opentelemetry.proto.ExportLogsServiceRequest;
export type MetricsRequest = opentelemetry.proto.ExportMetricsServiceRequest;
export type IAnyValue = opentelemetry.proto.IAnyValue;
export type IKeyValue = opentelemetry.proto.IKeyValue;
export type IResource = opentelemetry.proto.IResource;
export type IInstrumentationScope = opentelemetry.proto.IInstrumentationScope;
export type ISpan = opentelemetry.proto.ISpan;
export type ILogRecord = opentelemetry.proto.ILogRecord;
export type IMetric = opentelemetry.proto.IMetric;
export type INumberDataPoint = opentelemetry.proto.INumberDataPoint;
export type IHistogramDataPoint = opentelemetry.proto.IHistogramDataPoint;
export type IExponentialHistogramDataPoint = opentelemetry.proto.IExponentialHistogramDataPoint;
export type ISummaryDataPoint = opentelemetry.proto.ISummaryDataPoint;

/** A 64-bit value as protobufjs gives it: a Long-like {low, high}, or a number (from JSON). */
export type Long64 = { low: number; high: number } | number | string | null | undefined;

const TWO_32 = 0x1_0000_0000n;

/** fixed64 / uint64 (unsigned) -> bigint. */
export function unsigned64(v: Long64): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  return BigInt(v.high >>> 0) * TWO_32 + BigInt(v.low >>> 0);
}

/** int64 / sfixed64 (signed) -> bigint. */
export function signed64(v: Long64): bigint {
  return BigInt.asIntN(64, unsigned64(v));
}
