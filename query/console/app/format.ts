// Numbers and times as the console shows them.

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms === 0) return '0';
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)}m`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)}s`;
  if (ms >= 10) return `${ms.toFixed(ms >= 100 ? 0 : 1)}ms`;
  if (ms >= 1) return `${ms.toFixed(2)}ms`;
  return `${(ms * 1000).toFixed(0)}µs`;
}

export function fmtNum(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(a >= 100 ? 0 : a >= 1 ? digits : 3);
}

export function fmtPct(ratio: number | null | undefined, digits = 2): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–';
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** `2026-11-21T10:00:00.123456789Z` -> `10:00:00.123` (local time), with the date when not today. */
export function fmtTime(t: string | number, withDate = false): string {
  const d = new Date(typeof t === 'number' ? t : Date.parse(t));
  if (Number.isNaN(d.getTime())) return String(t);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  const today = new Date().toDateString() === d.toDateString();
  return withDate || !today ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}

/** RFC 3339 with nanoseconds -> epoch ms with the sub-ms part kept as a fraction. */
export function parseNanoTime(t: string): number {
  const m = /^(.*\.\d{3})(\d*)Z$/.exec(t);
  const ms = Date.parse(m ? `${m[1]}Z` : t);
  return m?.[2] ? ms + Number(`0.${m[2]}`) : ms;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The API's time forms (now, now-1h, epoch ms, RFC 3339) -> epoch ms, for drawing. */
export function resolveTime(text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  const rel = /^(?:now)?-(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (rel) return now - Number(rel[1]) * (UNITS[rel[2] as string] as number);
  if (/^\d{10,16}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? now : ms;
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#86bcb6', '#d37295', '#a0cbe8', '#8cd17d'];

/** A stable colour per service name. */
export function serviceColor(service: string): string {
  let h = 2166136261;
  for (let i = 0; i < service.length; i++) h = Math.imul(h ^ service.charCodeAt(i), 16777619);
  return PALETTE[(h >>> 0) % PALETTE.length] as string;
}

export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/**
 * The id a trace is shown and linked by: its 32 hex digits when its high 64
 * bits are not 0 (an OTLP or W3C trace: the id its sender's tools print, and
 * the link then finds that trace alone), else the 16 of `trace_id_hex`.
 */
export function traceIdOf(t: { trace_id_hex: string; trace_id_128: string }): string {
  return t.trace_id_128.startsWith('0'.repeat(16)) ? t.trace_id_hex : t.trace_id_128;
}

/** The link a trace opens at: its hex id, with 0x when the digits are all decimal (the API would read 16 of them as a decimal id). */
export function tracePath(hex: string): string {
  return `/traces/${/^\d+$/.test(hex) ? `0x${hex}` : hex}`;
}
