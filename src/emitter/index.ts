// The emitter library (`ssf-pipeline/emitter`): what applications import to
// emit logs, metrics and traces as SSF. Its only runtime dependency is
// protobufjs's minimal runtime.
export { Emitter } from './emitter.js';
export { dropChannel } from './drop-accounting.js';
export type { EmitterStats } from './drop-accounting.js';
export type { EmitterOptions, StartSpanOptions } from './emitter-options.js';
export type { LogFields, MetricOptions } from './emitter-types.js';
export { Span } from './span.js';
export type { TimeInput } from './clock.js';
export { extractTraceparent, injectTraceparent } from './traceparent.js';
export type { SpanContext } from './traceparent.js';
export { consoleLogger, silentLogger } from './logger.js';
export type { EmitterLogger } from './logger.js';
export { createTransport } from './transports/create-transport.js';
export type { DropReason, Outcome, Transport } from './transports/transport.js';
export type { LogSeverity, MetricScope, MetricStatus } from '../codec/types.js';

import { Emitter } from './emitter.js';
import type { EmitterOptions } from './emitter-options.js';

/** Creates an emitter. It never throws: an unusable address gives one warning and counted drops. */
export function createEmitter(options: EmitterOptions = {}): Emitter {
  return new Emitter(options);
}
