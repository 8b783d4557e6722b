/** What the benchmarks read about a process: CPU seconds, peak RSS, GC pauses, a CPU profile. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';

/** CPU seconds (user + system, every thread) of a process, from /proc. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Resets this process's peak RSS (VmHWM; writing 5 to clear_refs resets it,
 * Linux >= 4.0), after two full collections so that garbage left by earlier
 * work is not counted. Needs --expose-gc (or v8.setFlagsFromString) first.
 */
export function resetPeakRss(): void {
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  writeFileSync('/proc/self/clear_refs', '5');
}

/** A process's peak RSS (MB): since it started, or for this one since the last resetPeakRss(). */
export function peakRssMb(pid: number | 'self' = 'self'): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(hwm ?? 0) / 1024;
}

/** Main-thread GC pause time from now until stop() (seconds). */
export function gcMeter(): { stop(): number } {
  let ms = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) ms += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      for (const entry of observer.takeRecords()) ms += entry.duration;
      observer.disconnect();
      return ms / 1000;
    },
  };
}

/** With SSF_BENCH_CPU_PROFILE=<file>, a V8 CPU profile until stop() (open it in Chrome DevTools or speedscope). */
export async function startCpuProfile(): Promise<{ stop(): Promise<void> }> {
  const file = process.env['SSF_BENCH_CPU_PROFILE'];
  if (!file) return { stop: async () => {} };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * The node flags a script's first line starts it with (`#!/usr/bin/env -S
 * node <flags>`): the bench starts the built `ssf` as its bin does.
 */
export function nodeFlagsOf(script: string): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
  const flags = /^#!\/usr\/bin\/env -S node (.+)$/.exec(first)?.[1];
  return flags === undefined ? [] : flags.trim().split(/\s+/);
}
