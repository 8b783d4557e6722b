import { readdirSync } from 'node:fs';
import { Registry } from './prometheus.js';

let registry: Registry | undefined;

/** How often the event loop's delay is sampled. */
const LAG_TICK_MS = 10;

/**
 * The process's own numbers, under the names every Prometheus client library
 * gives them (`process_*`, `nodejs_*`), read when /metrics is rendered: CPU,
 * resident memory (now and at its peak), the main thread's heap, open file
 * descriptors, the event loop's delay. One registry per process, rendered by
 * each /metrics after the process's own metrics (in all-in-one mode once).
 */
export function processMetrics(): Registry {
  if (registry !== undefined) return registry;
  const r = new Registry();
  const started = Math.floor(Date.now() / 1000 - process.uptime());
  r.counter('process_cpu_user_seconds_total', 'User CPU time of the process, every thread, in seconds.').track(() => process.cpuUsage().user / 1e6);
  r.counter('process_cpu_system_seconds_total', 'System CPU time of the process, every thread, in seconds.').track(() => process.cpuUsage().system / 1e6);
  r.counter('process_cpu_seconds_total', 'User and system CPU time of the process, in seconds.').track(() => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  r.gauge('process_start_time_seconds', 'Start time of the process, in seconds since the Unix epoch.').set(started);
  r.gauge('process_resident_memory_bytes', 'Resident memory of the process (every thread), in bytes.').set(() => process.memoryUsage.rss());
  r.gauge(
    'process_resident_memory_peak_bytes',
    'The most resident memory the process has had since it started (getrusage maxrss, as /proc VmHWM), in bytes.',
  ).set(() => process.resourceUsage().maxRSS * 1024);
  r.gauge('process_open_fds', 'Open file descriptors (sockets included); -1 where /proc/self/fd cannot be read.').set(openFds);
  r.gauge('nodejs_heap_size_total_bytes', "The main thread's V8 heap, in bytes.").set(() => process.memoryUsage().heapTotal);
  r.gauge('nodejs_heap_size_used_bytes', "The main thread's V8 heap in use, in bytes.").set(() => process.memoryUsage().heapUsed);
  r.gauge('nodejs_external_memory_bytes', 'Memory of JavaScript objects held outside the V8 heap (Buffers), in bytes.').set(
    () => process.memoryUsage().external,
  );
  // The main thread's event loop delay: a timer due every 10 ms notes how late it fired.
  // (perf_hooks' monitorEventLoopDelay, measured here on Node 20, gave 10 ms for a loop held 300 ms.)
  let lateMs = 0;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    lateMs = Math.max(lateMs, now - last - LAG_TICK_MS);
    last = now;
  }, LAG_TICK_MS).unref();
  r.gauge(
    'nodejs_eventloop_lag_max_seconds',
    "Longest delay of the main thread's event loop since the last scrape (a 10 ms timer's lateness), in seconds.",
  ).set(() => {
    const max = Math.max(0, lateMs) / 1000;
    lateMs = 0;
    return max;
  });
  registry = r;
  return r;
}

function openFds(): number {
  try {
    // Less the descriptor readdirSync opened to read the directory.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return -1;
  }
}
