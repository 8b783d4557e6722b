import { createEmitter } from '../src/emitter/index.js';
import type { Emitter } from '../src/emitter/index.js';
import { DEMO_SERVICES, TrafficModel } from './demo/traffic-model.js';
import type { DemoService, RequestOutcome } from './demo/traffic-model.js';
import { seededRandom } from './demo/seeded-random.js';
import { ApiError, API_HELP, API_OPTIONS, apiTarget } from './api-client.js';
import type { Command } from './command.js';
import { parse, parseNumber, UsageError } from './command.js';
import { parseDurationArg } from './duration-arg.js';

const HELP = `Usage: ssf demo [--duration 60s] [--rate N] [--traces N] [--address URL]

Sends a small web shop's traffic into a running pipeline (ssf serve), with
the project's own emitter over HTTP: services web -> api -> auth, cache, db,
payments, as traces of parent and child spans across the services, log
lines on the spans, metrics (request counters, latency histograms, a queue
depth gauge, a set of active users), indicator spans on web's entry points
(for SLOs), some errors (declined cards, database timeouts), and, in the
middle of the run, a database that is slow for 10 seconds. It prints what
it sends and a trace id to look at, and ends once everything is delivered.

Options:
  --duration DURATION  how long to send: 30s, 5m, ... (default 60s). 0 sends
                       a fixed number of requests (--traces) and exits
  --rate N             requests per second (default 20)
  --traces N           send exactly N requests and exit (the slow-database
                       spike covers the middle third of them)
  --seed N             make the same choices as another run with this seed
${API_HELP}
  -h, --help           this help

Exit codes: 0 everything delivered, 1 unreachable or events dropped, 2 bad arguments.`;

const OPTIONS = {
  ...API_OPTIONS,
  duration: { type: 'string' },
  rate: { type: 'string' },
  traces: { type: 'string' },
  seed: { type: 'string' },
} as const;

const SPIKE_MS = 10_000;
const PROGRESS_EVERY_MS = 5_000;

function hex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}

/** `1 request`, `3 requests`. */
function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fails fast (exit 1) when nothing answers at the address, rather than dropping every event quietly. */
async function checkReachable(address: string): Promise<void> {
  try {
    await fetch(`${address}/-/ready`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ApiError(
      `cannot reach the pipeline at ${address} (${cause}). Is \`ssf serve\` running there? Give --address or set $SSF_ADDRESS.`,
      cause,
      undefined,
    );
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'send realistic multi-service traffic (traces, logs, metrics) into a running pipeline',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const rate = values.rate === undefined ? 20 : parseNumber(values.rate, '--rate');
    if (!(rate > 0 && rate <= 1000)) throw new UsageError(`--rate must be more than 0 and at most 1000 requests per second (got "${values.rate}")`);
    const durationMs = parseDurationArg(values.duration ?? (values.traces !== undefined ? '0' : '60s'), '--duration');
    let traces: number | undefined;
    if (values.traces !== undefined) {
      traces = parseNumber(values.traces, '--traces');
      if (!Number.isInteger(traces) || traces < 1 || traces > 1_000_000)
        throw new UsageError(`--traces must be a whole number from 1 to 1000000 (got "${values.traces}")`);
      if (values.duration !== undefined && durationMs > 0) throw new UsageError('give --duration or --traces, not both');
    } else if (durationMs === 0) {
      traces = 100;
    }
    const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : parseNumber(values.seed, '--seed');
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be a whole number (got "${values.seed}")`);
    const target = apiTarget(values);
    await checkReachable(target.address);

    const warnings = new Set<string>();
    const emitters = Object.fromEntries(
      DEMO_SERVICES.map((service) => [
        service,
        createEmitter({
          address: target.address,
          service,
          ...(target.token ? { token: target.token } : {}),
          tags: { env: 'demo' },
          logger: {
            warn: (message) => {
              if (!warnings.has(message)) process.stderr.write(`ssf demo: ${service}: ${message}\n`);
              warnings.add(message);
            },
          },
        }),
      ]),
    ) as Record<DemoService, Emitter>;

    // The spike: the middle 10 s of a timed run (a third of a shorter one), the middle third of a counted one.
    const started = Date.now();
    let sentRequests = 0;
    const spike =
      traces !== undefined
        ? { test: () => sentRequests >= traces / 3 && sentRequests < (2 * traces) / 3, words: 'the middle third of the requests' }
        : (() => {
            const length = Math.min(SPIKE_MS, durationMs / 3);
            const from = durationMs / 2 - length / 2;
            return {
              test: () => Date.now() - started >= from && Date.now() - started < from + length,
              words: `from ${Math.round(from / 1000)} s to ${Math.round((from + length) / 1000)} s`,
            };
          })();
    const model = new TrafficModel(emitters, { random: seededRandom(seed), slowDb: spike.test });

    const amount = traces !== undefined ? `${traces} requests` : `${Math.round(durationMs / 1000)} s`;
    console.log(`ssf demo: sending ${amount} of shop traffic at ${rate} requests/s to ${target.address} (seed ${seed})`);
    console.log(`  services ${DEMO_SERVICES.join(', ')}; the database is slow ${spike.words}`);

    let interesting: RequestOutcome | undefined;
    let slowest: RequestOutcome | undefined;
    const pending = new Set<Promise<void>>();
    const send = (): void => {
      sentRequests++;
      const p = model.request().then((outcome) => {
        // Prefer a trace with an error to show; otherwise the slowest one.
        if (!interesting && (outcome.error || outcome.status === 402)) interesting = outcome;
        if (!slowest || outcome.durationMs > slowest.durationMs) slowest = outcome;
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    };
    const ticker = setInterval(() => model.tick(), 1000);
    model.tick();
    let stopped = false;
    const onSignal = (): void => {
      stopped = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let wasSlow = false;
    let nextProgress = started + PROGRESS_EVERY_MS;
    try {
      const gapMs = 1000 / rate;
      for (let i = 0; !stopped; i++) {
        if (traces !== undefined ? i >= traces : Date.now() - started >= durationMs) break;
        const slow = spike.test();
        if (slow !== wasSlow && traces === undefined)
          console.log(
            slow
              ? `  ${Math.round((Date.now() - started) / 1000)} s  the database is slow now`
              : `  ${Math.round((Date.now() - started) / 1000)} s  the database is back to normal`,
          );
        wasSlow = slow;
        send();
        if (Date.now() >= nextProgress) {
          const c = model.counts;
          console.log(
            `  ${Math.round((Date.now() - started) / 1000)} s  ${count(c.requests, 'request')}, ${c.failed} failed (${count(c.timeouts, 'db timeout')}), ${count(c.declined, 'card')} declined`,
          );
          nextProgress += PROGRESS_EVERY_MS;
        }
        // Keep to the rate over the whole run, not per request.
        const due = started + (i + 1) * gapMs;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
      while (pending.size > 0) await Promise.all([...pending]);
    } finally {
      clearInterval(ticker);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    // The emitter never keeps a process alive by itself (its sockets are unref'd); this command waits for delivery.
    const keepAlive = setInterval(() => {}, 1000);
    await Promise.all(Object.values(emitters).map((e) => e.close(15_000)));
    clearInterval(keepAlive);

    const c = model.counts;
    let delivered = 0;
    let dropped = 0;
    for (const e of Object.values(emitters)) {
      const s = e.stats();
      delivered += s.sent;
      dropped += Object.values(s.dropped).reduce((a, b) => a + b, 0);
    }
    console.log(
      `ssf demo: sent ${count(c.requests, 'trace')}: ${c.spans} spans (${c.errorSpans} with errors), ${c.logs} log lines, ${c.samples} metric samples`,
    );
    console.log(
      `  ${count(c.failed, 'request')} failed (${count(c.timeouts, 'db timeout')}), ${count(c.declined, 'card')} declined; ${count(delivered, 'event')} delivered, ${dropped} dropped`,
    );
    const show = interesting ?? slowest;
    if (show) {
      const why = show.reason ? `, ${show.reason}` : `, ${Math.round(show.durationMs)} ms`;
      console.log(`\nLook at a trace (${show.name} ${show.status}${why}):\n  ssf trace ${hex(show.traceId)}`);
    }
    console.log(`Search the logs:\n  ssf logs timeout --since 1h\nThe busiest endpoints:\n  ssf top --once`);
    if (dropped > 0) {
      process.stderr.write(`ssf demo: ${dropped} events were not delivered${warnings.size ? `: ${[...warnings].join('; ')}` : ''}\n`);
      return 1;
    }
    return 0;
  },
};
