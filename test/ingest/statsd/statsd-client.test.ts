import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { StatsD } from 'hot-shots';
import type { ClientOptions } from 'hot-shots';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MetricSample } from '../../../src/codec/types.js';
import { parseStatsdPacket } from '../../../ingest/statsd/parse-statsd.js';

// A real statsd client (hot-shots, the most used one on npm) sending real UDP
// datagrams to a socket bound here: what a DogStatsD client puts on the wire
// must come out of parseStatsdPacket as the SSF we document.

const RECEIVED = 1_700_000_999_000_000_000n;
const T = new Date(1_700_000_000_000);
const T_NS = 1_700_000_000n * 1_000_000_000n;
const CONTAINER = 'c0ffee';

/** Datagrams received on 127.0.0.1, handed out in arrival order. */
class Receiver {
  private readonly queue: Buffer[] = [];
  private waiter: ((b: Buffer) => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('message', (msg) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(msg);
      else this.queue.push(msg);
    });
  }

  get port(): number {
    return (this.socket.address() as AddressInfo).port;
  }

  next(timeoutMs = 5_000): Promise<Buffer> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
    });
  }

  pending(): number {
    return this.queue.length;
  }
}

let rx: Receiver;
const clients: StatsD[] = [];
const clientErrors: Error[] = [];

beforeAll(async () => {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  rx = new Receiver(socket);
});

afterAll(async () => {
  await new Promise<void>((resolve) => rx.socket.close(() => resolve()));
});

afterEach(async () => {
  vi.restoreAllMocks();
  // close() flushes a buffered client and closes its socket; the test run then ends by itself.
  await Promise.all(clients.splice(0).map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
  expect(clientErrors.splice(0)).toEqual([]);
});

function client(options: ClientOptions = {}): StatsD {
  const c = new StatsD({
    host: '127.0.0.1',
    port: rx.port,
    protocol: 'udp',
    // DogStatsD mode with a fixed container id and tag cardinality: hot-shots
    // then adds `|c:` and `|card:` to every line. No process or DD_* env tags,
    // no client telemetry, no cgroup lookup: the datagrams are deterministic.
    datadog: true,
    originDetection: false,
    containerID: CONTAINER,
    cardinality: 'low',
    includeDataDogTags: false,
    includeDatadogTelemetry: false,
    globalTags: { env: 'test' },
    maxBufferSize: 0,
    errorHandler: (err) => clientErrors.push(err),
    ...options,
  });
  clients.push(c);
  return c;
}

function sample(fields: Partial<MetricSample> & Pick<MetricSample, 'type' | 'name' | 'value'>): MetricSample {
  return { timestamp: RECEIVED, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default', ...fields };
}

/** Receives the next datagram, checks its text, and parses it. */
async function receive(expectedWire: string) {
  const datagram = await rx.next();
  expect(datagram.toString('utf8')).toBe(expectedWire);
  return parseStatsdPacket(datagram, RECEIVED);
}

async function receiveSamples(expectedWire: string): Promise<MetricSample[]> {
  const r = await receive(expectedWire);
  expect(r.rejections).toEqual([]);
  expect(r.logs).toEqual([]);
  return r.samples;
}

const ext = `|c:${CONTAINER}|card:low`;
const baseTags = { env: 'test', container_id: CONTAINER };

describe('hot-shots over real UDP', () => {
  it('counters: increment, decrement, tags as array and object', async () => {
    const c = client();
    c.increment('page.views', 1, ['route:/x']);
    expect(await receiveSamples(`page.views:1|c|#env:test,route:/x${ext}`)).toEqual([
      sample({ type: 'counter', name: 'page.views', value: 1, tags: { ...baseTags, route: '/x' } }),
    ]);
    c.decrement('jobs.running', 2, { queue: 'mail', canary: '' });
    expect(await receiveSamples(`jobs.running:-2|c|#env:test,queue:mail,canary:${ext}`)).toEqual([
      sample({ type: 'counter', name: 'jobs.running', value: -2, tags: { ...baseTags, queue: 'mail', canary: '' } }),
    ]);
  });

  it('a sampled counter carries its sample rate', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // hot-shots samples client-side: always keep
    client().increment('api.calls', 3, 0.25, ['route:/y']);
    expect(await receiveSamples(`api.calls:3|c|@0.25|#env:test,route:/y${ext}`)).toEqual([
      sample({ type: 'counter', name: 'api.calls', value: 3, sampleRate: 0.25, tags: { ...baseTags, route: '/y' } }),
    ]);
  });

  it('gauges, with a DogStatsD 1.3 timestamp; a gauge delta is read as an absolute value', async () => {
    const c = client();
    c.gauge('queue.depth', 42.5, { tags: ['queue:mail'], timestamp: T });
    expect(await receiveSamples(`queue.depth:42.5|g|T1700000000|#env:test,queue:mail${ext}`)).toEqual([
      sample({ type: 'gauge', name: 'queue.depth', value: 42.5, timestamp: T_NS, tags: { ...baseTags, queue: 'mail' } }),
    ]);
    c.gaugeDelta('pool.size', -3);
    expect(await receiveSamples(`pool.size:-3|g|#env:test${ext}`)).toEqual([sample({ type: 'gauge', name: 'pool.size', value: -3, tags: baseTags })]);
  });

  it('timings are histograms in ms; histograms and distributions (GLOBAL)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const c = client();
    c.timing('req.latency', 12.5, 0.5, ['route:/x']);
    expect(await receiveSamples(`req.latency:12.5|ms|@0.5|#env:test,route:/x${ext}`)).toEqual([
      sample({ type: 'histogram', name: 'req.latency', value: 12.5, unit: 'ms', sampleRate: 0.5, tags: { ...baseTags, route: '/x' } }),
    ]);
    c.histogram('resp.bytes', 2048, ['veneurlocalonly']);
    expect(await receiveSamples(`resp.bytes:2048|h|#env:test,veneurlocalonly${ext}`)).toEqual([
      sample({ type: 'histogram', name: 'resp.bytes', value: 2048, scope: 'local', tags: baseTags }),
    ]);
    c.distribution('lat.dist', 0.125, { region: 'eu' });
    expect(await receiveSamples(`lat.dist:0.125|d|#env:test,region:eu${ext}`)).toEqual([
      sample({ type: 'histogram', name: 'lat.dist', value: 0.125, scope: 'global', tags: { ...baseTags, region: 'eu' } }),
    ]);
  });

  it('sets carry their member in message', async () => {
    client().set('users.unique', 'user-1234', ['plan:pro']);
    expect(await receiveSamples(`users.unique:user-1234|s|#env:test,plan:pro${ext}`)).toEqual([
      sample({ type: 'set', name: 'users.unique', value: 0, message: 'user-1234', tags: { ...baseTags, plan: 'pro' } }),
    ]);
  });

  it('events become log records', async () => {
    client().event(
      'deploy',
      'shipped\nv1.2.3',
      { date_happened: T, hostname: 'web-1', aggregation_key: 'deploys', priority: 'low', source_type_name: 'ci', alert_type: 'error' },
      ['team:core'],
    );
    const r = await receive(`_e{6,15}:deploy|shipped\\nv1.2.3|d:1700000000|h:web-1|k:deploys|p:low|s:ci|t:error|#env:test,team:core${ext}`);
    expect(r.rejections).toEqual([]);
    expect(r.samples).toEqual([]);
    expect(r.logs).toEqual([
      {
        timestamp: T_NS,
        severity: 'error',
        severityNumber: 17,
        body: 'deploy\nshipped\nv1.2.3',
        attributes: {
          env: 'test',
          team: 'core',
          'event.title': 'deploy',
          'event.priority': 'low',
          'event.alert_type': 'error',
          'event.aggregation_key': 'deploys',
          'event.source_type': 'ci',
          host: 'web-1',
          container_id: CONTAINER,
        },
      },
    ]);
  });

  it('an event with defaults is an INFO record stamped when received', async () => {
    client().event('cache flushed');
    // hot-shots sends the title as the text when there is none.
    const r = await receive(`_e{13,13}:cache flushed|cache flushed|#env:test${ext}`);
    expect(r.logs).toEqual([
      {
        timestamp: RECEIVED,
        severity: 'info',
        severityNumber: 9,
        body: 'cache flushed\ncache flushed',
        attributes: { env: 'test', 'event.title': 'cache flushed', 'event.priority': 'normal', 'event.alert_type': 'info', container_id: CONTAINER },
      },
    ]);
  });

  // hot-shots writes the lengths as UTF-16 code units (String#length), the
  // DogStatsD protocol asks for UTF-8 bytes: a non-ASCII event from hot-shots
  // is refused, as the Datadog agent and Veneur refuse it.
  it('refuses a non-ASCII event from hot-shots, whose lengths are not UTF-8 bytes', async () => {
    client().event('café', 'crème');
    const r = await receive(`_e{4,5}:café|crème|#env:test${ext}`);
    expect(r.logs).toEqual([]);
    expect(r.rejections).toEqual([
      {
        line: 0,
        code: 'STATSD_ERR_EVENT',
        reason: 'the title is not 4 UTF-8 bytes followed by "|"',
        text: `_e{4,5}:café|crème|#env:test${ext}`,
      },
    ]);
  });

  it('service checks become STATUS samples', async () => {
    const c = client();
    c.check('db.up', c.CHECKS.CRITICAL, { date_happened: T, hostname: 'db-1', message: 'replica down' }, ['veneurglobalonly', 'role:replica']);
    expect(await receiveSamples(`_sc|db.up|2|d:1700000000|h:db-1|#env:test,role:replica,veneurglobalonly${ext}|m:replica down`)).toEqual([
      sample({
        type: 'status',
        name: 'db.up',
        value: 0,
        status: 'critical',
        timestamp: T_NS,
        message: 'replica down',
        scope: 'global',
        tags: { ...baseTags, role: 'replica', host: 'db-1' },
      }),
    ]);
    c.check('cache.up', c.CHECKS.OK);
    expect(await receiveSamples(`_sc|cache.up|0|#env:test${ext}`)).toEqual([
      sample({ type: 'status', name: 'cache.up', value: 0, status: 'ok', tags: baseTags }),
    ]);
  });

  it('a buffered client packs several lines into one datagram', async () => {
    // Not in Datadog mode: no container id or cardinality, plain lines.
    const c = client({ maxBufferSize: 8_192, bufferFlushInterval: 60_000, datadog: false });
    c.increment('a.count', 5, ['k:1']);
    c.gauge('b.gauge', 7);
    c.event('title', 'text');
    c.check('c.check', c.CHECKS.WARNING, { message: 'slow' });
    c.set('d.set', 'member');
    c.flush();
    const r = await receive(
      ['a.count:5|c|#env:test,k:1', 'b.gauge:7|g|#env:test', '_e{5,4}:title|text|#env:test', '_sc|c.check|1|#env:test|m:slow', 'd.set:member|s|#env:test'].join(
        '\n',
      ),
    );
    expect(r.rejections).toEqual([]);
    expect(r.samples).toEqual([
      sample({ type: 'counter', name: 'a.count', value: 5, tags: { env: 'test', k: '1' } }),
      sample({ type: 'gauge', name: 'b.gauge', value: 7, tags: { env: 'test' } }),
      sample({ type: 'status', name: 'c.check', value: 0, status: 'warning', message: 'slow', tags: { env: 'test' } }),
      sample({ type: 'set', name: 'd.set', value: 0, message: 'member', tags: { env: 'test' } }),
    ]);
    expect(r.logs.map((l) => l.body)).toEqual(['title\ntext']);
  });

  it('leaves no datagram unread', () => {
    expect(rx.pending()).toBe(0);
  });
});
