/**
 * Progress of a long job on stderr. On a terminal: one bar redrawn in place
 * with `\r` (done/total, rate, ETA). Otherwise (a log file, CI, a pipe): a
 * plain line every `intervalMs`, so logs stay readable. Both end with one
 * summary line.
 */
export interface Progress {
  /** `n` more units done; `note` says what is being worked on (a chunk, an offset). */
  advance(n: number, note?: string): void;
  /** Units found already done (resumed from the state file): counted, but not in the rate. */
  skip(n: number): void;
  /** The closing line (always printed). */
  finish(summary: string): void;
}

export interface ProgressOptions {
  label: string;
  /** Units in the whole job, when known (0: unknown, no bar or ETA). */
  total: number;
  /** What a unit is, plural: `chunks`, `spans`. */
  unit: string;
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Default: whether the stream is a terminal. */
  tty?: boolean;
  /** Plain mode: at most one line per interval. Default 5000 ms. */
  intervalMs?: number;
  now?: () => number;
}

const BAR_WIDTH = 28;
const REDRAW_MS = 100;

/** `1h02m`, `3m05s`, `12s`. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 100) return perSecond.toFixed(0);
  if (perSecond >= 1) return perSecond.toFixed(1);
  return perSecond.toFixed(2);
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const intervalMs = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  const started = now();
  let done = 0;
  let skipped = 0;
  let note = '';
  let lastDraw = 0;
  let drawn = false;

  const line = (): string => {
    const elapsed = Math.max((now() - started) / 1000, 0.001);
    const rate = done / elapsed;
    const count = done + skipped;
    const parts: string[] = [options.label];
    if (options.total > 0) {
      const fraction = Math.min(count / options.total, 1);
      if (tty) {
        const full = Math.round(fraction * BAR_WIDTH);
        parts.push(`[${'#'.repeat(full)}${'.'.repeat(BAR_WIDTH - full)}]`);
      }
      parts.push(`${(fraction * 100).toFixed(0).padStart(3)}%`, `${count}/${options.total} ${options.unit}`);
    } else {
      parts.push(`${count} ${options.unit}`);
    }
    parts.push(`${formatRate(rate)} ${options.unit}/s`);
    if (options.total > 0) parts.push(`ETA ${rate > 0 ? formatEta((options.total - count) / rate) : '?'}`);
    if (note) parts.push(note);
    return parts.join(' ');
  };

  const draw = (force: boolean): void => {
    const t = now();
    if (!force && t - lastDraw < (tty ? REDRAW_MS : intervalMs)) return;
    lastDraw = t;
    if (tty) {
      const width = Math.max((stream.columns ?? 100) - 1, 20);
      stream.write(`\r${line().slice(0, width).padEnd(width)}`);
      drawn = true;
    } else {
      stream.write(`${line()}\n`);
    }
  };
  // Plain mode: the first line comes after one interval, not at once.
  if (!tty) lastDraw = started;

  return {
    advance(n, what) {
      done += n;
      if (what !== undefined) note = what;
      draw(false);
    },
    skip(n) {
      skipped += n;
    },
    finish(summary) {
      if (tty && drawn) stream.write('\r\x1b[K');
      stream.write(`${options.label} ${summary}\n`);
    },
  };
}
