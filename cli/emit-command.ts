import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { createEmitter } from '../src/emitter/index.js';
import type { Emitter, LogSeverity, MetricOptions, MetricScope, MetricStatus, SpanContext } from '../src/emitter/index.js';
import { extractTraceparent, injectTraceparent } from '../src/emitter/traceparent.js';
import type { Command } from './command.js';
import { parse, parseNumber, parseTags, UsageError } from './command.js';

const HELP = `Usage: ssf emit <kind> [arguments] [options]

Emits one metric, log record or span as SSF, like veneur-emit.

Kinds:
  counter NAME [VALUE]             add VALUE (default 1) to a counter
  gauge NAME VALUE                 set a gauge
  histogram NAME VALUE             record a value in a histogram
  timer NAME MILLISECONDS          record a duration (a histogram in ms)
  set NAME MEMBER                  count MEMBER towards the distinct members of NAME
  status NAME STATE                a service check: ok, warning, critical or unknown
  log LEVEL MESSAGE                a log record: trace, debug, info, warn, error or fatal
  span NAME                        a finished span (--duration-ms, or --start-ns and --end-ns)
  exec [--name NAME] -- CMD ARGS   run CMD and send it as a span: its duration, and the
                                   error flag from its exit code. CMD gets TRACEPARENT,
                                   SSF_TRACE_ID and SSF_PARENT_ID, so an ssf emit inside it
                                   joins the trace. Exits with CMD's exit code.

Options:
  --address URL        udp://, unix://, tcp:// or http(s):// (default $SSF_ADDRESS or udp://127.0.0.1:8128)
  --service NAME       service name (default $SSF_SERVICE or ssf-emit)
  --tag KEY:VALUE      a tag (repeatable)
  --field KEY=VALUE    a log attribute (repeatable; log only)
  --sample-rate RATE   client-side sample rate in (0, 1]
  --unit UNIT          the metric's unit
  --scope SCOPE        local or global aggregation (Veneur's scope)
  --message TEXT       the status check's message
  --duration-ms MS     span: its duration, ending now
  --start-ns NS        span: start, Unix nanoseconds
  --end-ns NS          span: end, Unix nanoseconds
  --name NAME          exec: the span name (default: the command)
  --indicator          span/exec: an SLI indicator span
  --error              span: mark as failed
  --parent TRACEPARENT make the span a child of this W3C traceparent
                       (default: $TRACEPARENT, or $SSF_TRACE_ID and $SSF_PARENT_ID)
  --token TOKEN        bearer token for http(s) addresses (default $SSF_TOKEN)
  -h, --help           this help

Exit codes: 0 delivered, 1 not delivered (the reason is printed), 2 bad arguments;
exec: the command's own exit code.`;

const OPTIONS = {
  address: { type: 'string' },
  service: { type: 'string' },
  tag: { type: 'string', multiple: true },
  field: { type: 'string', multiple: true },
  'sample-rate': { type: 'string' },
  unit: { type: 'string' },
  scope: { type: 'string' },
  message: { type: 'string' },
  'duration-ms': { type: 'string' },
  'start-ns': { type: 'string' },
  'end-ns': { type: 'string' },
  name: { type: 'string' },
  indicator: { type: 'boolean' },
  error: { type: 'boolean' },
  parent: { type: 'string' },
  token: { type: 'string' },
} as const;

const LEVELS: readonly LogSeverity[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const STATES: readonly MetricStatus[] = ['ok', 'warning', 'critical', 'unknown'];

/** The parent context from --parent, $TRACEPARENT, or $SSF_TRACE_ID + $SSF_PARENT_ID. */
export function parentFromEnvironment(flag: string | undefined, env: NodeJS.ProcessEnv): SpanContext | undefined {
  if (flag !== undefined) {
    const ctx = extractTraceparent(flag);
    if (!ctx) throw new UsageError(`--parent "${flag}" is not a valid W3C traceparent`);
    return ctx;
  }
  const fromTraceparent = extractTraceparent(env['TRACEPARENT']);
  if (fromTraceparent) return fromTraceparent;
  const traceId = env['SSF_TRACE_ID'];
  const parentId = env['SSF_PARENT_ID'];
  if (traceId && parentId && /^-?\d+$/.test(traceId) && /^-?\d+$/.test(parentId)) {
    return { traceId: BigInt(traceId), spanId: BigInt(parentId), traceIdHigh: 0n, sampled: true, remote: true };
  }
  return undefined;
}

function bigintArg(value: string | undefined, flag: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be Unix nanoseconds (digits only, got "${value}")`);
  return BigInt(value);
}

export const emitCommand: Command = {
  name: 'emit',
  summary: 'emit a metric, log record or span, or time a command as a span',
  help: HELP,
  async run(args) {
    const dashdash = args.indexOf('--');
    const own = dashdash === -1 ? args : args.slice(0, dashdash);
    const commandLine = dashdash === -1 ? [] : args.slice(dashdash + 1);
    const { values, positionals } = parse(own, OPTIONS);
    const [kind, ...rest] = positionals;
    if (!kind) throw new UsageError('say what to emit: counter, gauge, histogram, timer, set, status, log, span or exec');

    const metric: MetricOptions = { tags: parseTags(values.tag, '--tag') };
    if (values['sample-rate'] !== undefined) {
      const rate = parseNumber(values['sample-rate'], '--sample-rate');
      if (!(rate > 0 && rate <= 1)) throw new UsageError('--sample-rate must be in (0, 1]');
      metric.sampleRate = rate;
    }
    if (values.unit !== undefined) metric.unit = values.unit;
    if (values.scope !== undefined) {
      if (values.scope !== 'local' && values.scope !== 'global') throw new UsageError('--scope is local or global');
      metric.scope = values.scope satisfies MetricScope;
    }
    const parent = parentFromEnvironment(values.parent, process.env);
    const need = (n: number, usage: string): string[] => {
      if (rest.length !== n) throw new UsageError(`usage: ssf emit ${kind} ${usage}`);
      return rest;
    };

    // Validate everything before opening the transport.
    let act: (e: Emitter) => Promise<number> | number;
    switch (kind) {
      case 'counter': {
        if (rest.length < 1 || rest.length > 2) throw new UsageError('usage: ssf emit counter NAME [VALUE]');
        const value = rest[1] === undefined ? 1 : parseNumber(rest[1], 'VALUE');
        act = (e) => {
          e.counter(rest[0] as string, value, metric);
          return 0;
        };
        break;
      }
      case 'gauge':
      case 'histogram':
      case 'timer': {
        const [name, raw] = need(2, 'NAME VALUE');
        const value = parseNumber(raw, 'VALUE');
        act = (e) => {
          e[kind](name as string, value, metric);
          return 0;
        };
        break;
      }
      case 'set': {
        const [name, member] = need(2, 'NAME MEMBER');
        act = (e) => {
          e.set(name as string, member as string, metric);
          return 0;
        };
        break;
      }
      case 'status': {
        const [name, state] = need(2, 'NAME ok|warning|critical|unknown');
        if (!STATES.includes(state as MetricStatus)) throw new UsageError(`STATE must be one of ${STATES.join(', ')} (got "${state}")`);
        act = (e) => {
          e.status(name as string, state as MetricStatus, { ...metric, ...(values.message !== undefined ? { message: values.message } : {}) });
          return 0;
        };
        break;
      }
      case 'log': {
        const [level, message] = need(2, 'LEVEL MESSAGE');
        if (!LEVELS.includes(level as LogSeverity)) throw new UsageError(`LEVEL must be one of ${LEVELS.join(', ')} (got "${level}")`);
        const fields = parseTags(values.field, '--field');
        act = (e) => {
          const span = parent ? e.startSpan('log', { parent }) : undefined;
          e.log(level as LogSeverity, message as string, { ...metric.tags, ...fields }, span);
          return 0;
        };
        break;
      }
      case 'span': {
        const [name] = need(1, 'NAME (--duration-ms MS | --start-ns NS --end-ns NS)');
        const start = bigintArg(values['start-ns'], '--start-ns');
        const end = bigintArg(values['end-ns'], '--end-ns');
        const durationMs = values['duration-ms'] === undefined ? undefined : parseNumber(values['duration-ms'], '--duration-ms');
        if (durationMs === undefined && (start === undefined || end === undefined))
          throw new UsageError('span needs --duration-ms, or --start-ns and --end-ns');
        if (start !== undefined && end !== undefined && end < start) throw new UsageError('--end-ns is before --start-ns');
        act = (e) => {
          const endNs = end ?? BigInt(Date.now()) * 1_000_000n;
          const startNs = start ?? endNs - BigInt(Math.round((durationMs ?? 0) * 1e6));
          const span = e.startSpan(name as string, {
            parent: parent ?? null,
            tags: metric.tags ?? {},
            indicator: values.indicator ?? false,
            startTime: startNs,
          });
          if (values.error) span.setError(true);
          span.finish(endNs);
          return 0;
        };
        break;
      }
      case 'exec': {
        if (commandLine.length === 0) throw new UsageError('usage: ssf emit exec [--name NAME] -- COMMAND [ARGS...]');
        if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')} before --`);
        act = (e) => runTimed(e, commandLine, values.name ?? commandLine.join(' ').slice(0, 200), parent, metric.tags ?? {}, values.indicator ?? false);
        break;
      }
      default:
        throw new UsageError(`unknown kind "${kind}": counter, gauge, histogram, timer, set, status, log, span or exec`);
    }

    const problems: string[] = [];
    const emitter = createEmitter({
      ...(values.address !== undefined ? { address: values.address } : {}),
      service: values.service ?? process.env['SSF_SERVICE'] ?? 'ssf-emit',
      ...((values.token ?? process.env['SSF_TOKEN']) ? { token: values.token ?? process.env['SSF_TOKEN'] ?? '' } : {}),
      logger: { warn: (m) => problems.push(m) },
      maxRetries: 1,
      timeoutMs: 5000,
    });
    // The emitter never keeps a process alive by itself; this command wants to wait for delivery.
    const keepAlive = setInterval(() => {}, 1000);
    const code = await act(emitter);
    await emitter.close(10_000);
    clearInterval(keepAlive);
    const stats = emitter.stats();
    const dropped = Object.entries(stats.dropped).filter(([, n]) => n > 0);
    if (dropped.length > 0) {
      process.stderr.write(
        `ssf emit: not delivered (${dropped.map(([r, n]) => `${r}: ${n}`).join(', ')})${problems.length ? `: ${problems.join('; ')}` : ''}\n`,
      );
      return kind === 'exec' ? code : 1;
    }
    return code;
  },
};

/** Runs a command as a span; returns its exit code (128 + signal number when killed). */
function runTimed(
  e: Emitter,
  argv: string[],
  name: string,
  parent: SpanContext | undefined,
  tags: Record<string, string>,
  indicator: boolean,
): Promise<number> {
  const span = e.startSpan(name, { parent: parent ?? null, tags: { ...tags, command: argv[0] ?? '' }, indicator });
  const env = {
    ...process.env,
    TRACEPARENT: injectTraceparent(span.context()),
    SSF_TRACE_ID: span.traceId.toString(),
    SSF_PARENT_ID: span.id.toString(),
  };
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let finished = false;
    const done = (code: number, tag: string): void => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      span.setTag('exit_code', tag);
      if (code !== 0) span.setError(true);
      span.finish();
      resolve(code);
    };
    child.on('error', (err) => {
      process.stderr.write(`ssf emit: cannot run ${argv[0]}: ${err.message}\n`);
      span.setTag('error.message', err.message);
      done(127, '127');
    });
    child.on('exit', (code, signal) => {
      if (signal) done(128 + (signalNumber(signal) ?? 1), signal);
      else done(code ?? 0, String(code ?? 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return constants.signals[signal];
}
