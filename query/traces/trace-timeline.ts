import type { TraceNode } from './assemble-trace.js';
import type { TraceAnswer, TraceLog } from './fetch-trace.js';

/** Milliseconds as the timeline prints them: three decimals (microseconds). */
export function formatMs(ms: number): string {
  return `${ms.toFixed(3)}ms`;
}

/** Depth-first, children in start order: the order the timeline lists spans in. */
export function spansInTreeOrder(roots: readonly TraceNode[]): TraceNode[] {
  const out: TraceNode[] = [];
  const visit = (n: TraceNode): void => {
    out.push(n);
    for (const c of n.children) visit(c);
  };
  for (const r of roots) visit(r);
  return out;
}

function logLine(pad: string, log: TraceLog): string {
  return `${pad}${log.severity.toUpperCase()} ${log.body.replace(/\r?\n/g, `\n${pad}  `)}`;
}

/**
 * The plain-text timeline of `?format=text`, after the Hailo trace tool: a
 * header, then one line per span in tree order
 *
 *   `* <offset> <service> <indented name> <duration> [ERROR] [ORPHAN]`
 *
 * (`*` marks the critical path), each followed by its log lines (severity
 * and body, indented under the name). Logs of the trace whose span is not in
 * it come last.
 */
export function traceTimeline(trace: TraceAnswer): string {
  const nodes = spansInTreeOrder(trace.spans);
  const offsetWidth = Math.max(...nodes.map((n) => formatMs(n.offset_ms).length));
  const serviceWidth = Math.max(...nodes.map((n) => n.service.length));
  const logsBySpan = new Map<string, TraceLog[]>();
  for (const l of trace.logs) {
    const list = logsBySpan.get(l.span_id) ?? [];
    list.push(l);
    logsBySpan.set(l.span_id, list);
  }

  const lines = [
    // A 128-bit id (OTLP, W3C) is printed whole too: it is the id the sender's own tools show.
    `trace ${trace.trace_id} (${trace.trace_id_hex}${trace.trace_id_128.startsWith('0'.repeat(16)) ? '' : `, 128-bit ${trace.trace_id_128}`})`,
    `start ${trace.start}  duration ${formatMs(trace.duration_ms)}`,
    `services ${trace.services.join(', ')}`,
    `spans ${trace.span_count}${trace.truncated.spans ? ' (of more: the first read)' : ''}  errors ${trace.error_count}  logs ${trace.logs.length}  samples ${trace.samples.length}`,
    `* marks the critical path`,
    '',
  ];
  for (const n of nodes) {
    const mark = n.on_critical_path ? '*' : ' ';
    const lead = `${mark} ${formatMs(n.offset_ms).padStart(offsetWidth)}  ${n.service.padEnd(serviceWidth)}  ${'  '.repeat(n.depth)}`;
    lines.push(`${lead}${n.name}  ${formatMs(n.duration_ms)}${n.error ? '  ERROR' : ''}${n.orphan ? `  ORPHAN (parent ${n.parent_id})` : ''}`);
    const pad = ' '.repeat(lead.length + 2);
    for (const l of logsBySpan.get(n.span_id) ?? []) lines.push(logLine(pad, l));
    logsBySpan.delete(n.span_id);
  }
  const rest = [...logsBySpan.values()].flat();
  if (rest.length > 0) {
    lines.push('', 'logs of spans not in the trace:');
    for (const l of rest) lines.push(`${logLine('  ', l)}  (span ${l.span_id}, ${l.service}, ${formatMs(l.offset_ms)})`);
  }
  return `${lines.join('\n')}\n`;
}
