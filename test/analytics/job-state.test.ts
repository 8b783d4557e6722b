import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobInputError } from '../../query/analytics/job-input-error.js';
import { JobState, stableJson } from '../../query/analytics/job-state.js';
import { compactUtc, timeChunks, wholeHours } from '../../query/analytics/time-chunks.js';
import { rebuildRange } from '../../query/analytics/rebuild-rollups.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop() as string, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ssf-state-'));
  dirs.push(d);
  return d;
}

describe('JobState', () => {
  it('resumes what a run saved, for the same arguments only', () => {
    const path = join(dir(), 'x.json');
    const first = JobState.open('export', { table: 'spans', from: 1 }, () => ({ done: [] as number[] }), { path });
    expect(first.resumed).toBe(false);
    first.state.done.push(7);
    first.save();
    const again = JobState.open('export', { from: 1, table: 'spans' }, () => ({ done: [] as number[] }), { path });
    expect(again.resumed).toBe(true);
    expect(again.state.done).toEqual([7]);
    expect(() => JobState.open('export', { table: 'logs', from: 1 }, () => ({ done: [] }), { path })).toThrow(JobInputError);
    expect(() => JobState.open('replay', { table: 'spans', from: 1 }, () => ({ done: [] }), { path })).toThrow(/belongs to another run/);
    const fresh = JobState.open('export', { table: 'logs', from: 1 }, () => ({ done: [] as number[] }), { path, restart: true });
    expect(fresh.state.done).toEqual([]);
    expect(JSON.parse(readFileSync(path, 'utf8')).state.done).toEqual([7]);
  });

  it('refuses a state file that is not JSON, saying what to do', () => {
    const d = dir();
    const path = join(d, 'bad.json');
    JobState.open('export', {}, () => ({}), { path }).save();
    rmSync(path);
    writeFileSync(path, '{ half');
    expect(() => JobState.open('export', {}, () => ({}), { path })).toThrow(/not readable JSON.*--restart/);
  });

  it('names the default file after the job and its arguments', () => {
    const a = JobState.open('rebuild-rollups', { from: 'a', to: 'b' }, () => ({}));
    const b = JobState.open('rebuild-rollups', { to: 'b', from: 'a' }, () => ({}));
    const c = JobState.open('rebuild-rollups', { from: 'a', to: 'c' }, () => ({}));
    expect(a.path).toBe(b.path);
    expect(a.path).not.toBe(c.path);
    expect(a.path).toMatch(/\.cache\/analytics\/rebuild-rollups-[0-9a-f]{16}\.json$/);
    expect(stableJson({ b: 1, a: { d: 2, c: 3n } })).toBe('{"a":{"c":"3","d":2},"b":1}');
  });
});

describe('time chunks', () => {
  const H = 3_600_000;
  const t0 = Date.UTC(2026, 10, 21, 10, 0, 0);
  it('cuts at multiples of the size, clipping the ends', () => {
    expect(timeChunks(t0 + 15 * 60_000, t0 + 2 * H + 60_000, H)).toEqual([
      { fromMs: t0 + 15 * 60_000, toMs: t0 + H },
      { fromMs: t0 + H, toMs: t0 + 2 * H },
      { fromMs: t0 + 2 * H, toMs: t0 + 2 * H + 60_000 },
    ]);
    expect(timeChunks(t0, t0, H)).toEqual([]);
  });
  it('widens to whole hours and names chunk starts', () => {
    expect(wholeHours(t0 + 1, t0 + H + 1)).toEqual({ fromMs: t0, toMs: t0 + 2 * H });
    expect(compactUtc(t0 + 30 * 60_000)).toBe('20261121T1030Z');
  });
});

describe('rebuildRange', () => {
  const H = 3_600_000;
  const now = Date.UTC(2026, 10, 21, 10, 20, 0);
  const retention = { spansDays: 30, logsDays: 30, samplesDays: 7, rollup1mDays: 90, rollup1hDays: 730 };
  it('rebuilds whole hours before the current one, within the retention of the raw rows', () => {
    expect(rebuildRange(now - 3 * H + 60_000, now - H - 60_000, retention, now)).toEqual({
      fromMs: Date.UTC(2026, 10, 21, 7),
      toMs: Date.UTC(2026, 10, 21, 10),
    });
    expect(() => rebuildRange(now - 2 * H, now, retention, now)).toThrow(/current hour \(2026-11-21T10:00:00Z\)/);
    expect(() => rebuildRange(now - 8 * 24 * H, now - 7.5 * 24 * H, retention, now)).toThrow(/kept 7 days/);
    expect(() => rebuildRange(now - H, now - 2 * H, retention, now)).toThrow(JobInputError);
  });
});
