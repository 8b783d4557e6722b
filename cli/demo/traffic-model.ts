import type { Emitter, LogSeverity, MetricOptions, Span } from '../../src/emitter/index.js';

/** The services of the demo shop; each one has an emitter of its own, as separate processes would. */
export const DEMO_SERVICES = ['web', 'api', 'auth', 'db', 'cache', 'payments'] as const;
export type DemoService = (typeof DEMO_SERVICES)[number];

/** The entry points on `web`, and how often each is asked for. */
export const DEMO_ROUTES = [
  { method: 'GET', route: '/', weight: 0.3 },
  { method: 'GET', route: '/products/:id', weight: 0.35 },
  { method: 'POST', route: '/checkout', weight: 0.15 },
  { method: 'GET', route: '/account', weight: 0.1 },
  { method: 'POST', route: '/login', weight: 0.1 },
] as const;

/** What the demo has sent so far (every event it gave to an emitter). */
export interface DemoCounts {
  requests: number;
  /** Requests answered 5xx (their root span has error = true). */
  failed: number;
  spans: number;
  /** Spans with error = true (failed requests, declined cards, timed-out queries, ...). */
  errorSpans: number;
  logs: number;
  samples: number;
  declined: number;
  timeouts: number;
}

export interface RequestOutcome {
  traceId: bigint;
  name: string;
  status: number;
  error: boolean;
  durationMs: number;
  /** Why it failed or was refused, in words. */
  reason: string | undefined;
}

export interface TrafficOptions {
  /** Every choice comes from here ([0, 1)), so a seed repeats a run. */
  random: () => number;
  /** True while the database is slow (the latency spike). */
  slowDb(): boolean;
}

/** A failure that travels up the call chain, as an exception would in the real services. */
class DemoFailure extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const DB_TIMEOUT_MS = 2000;
const DECLINE_REASONS = ['insufficient_funds', 'card_expired', 'do_not_honor', 'incorrect_cvc'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A small web shop's traffic: `web` receives a request (an indicator span:
 * it counts towards the service's SLO), calls `api`, which calls `auth`,
 * `cache`, `db` and `payments`. Every call is a child span in the callee's
 * service and takes real time; log lines go on the spans, metrics on the
 * spans and on their own. Some cards are declined, some queries time out,
 * and while `slowDb()` the database is slow and one query in five (the
 * first one among them) times out.
 */
export class TrafficModel {
  readonly counts: DemoCounts = { requests: 0, failed: 0, spans: 0, errorSpans: 0, logs: 0, samples: 0, declined: 0, timeouts: 0 };
  private readonly random: () => number;
  private slowQueries = 0;
  private inFlightPayments = 0;

  constructor(
    private readonly emitters: Readonly<Record<DemoService, Emitter>>,
    private readonly options: TrafficOptions,
  ) {
    this.random = options.random;
  }

  /** One request on `web`, from arrival to answer. Never rejects. */
  async request(): Promise<RequestOutcome> {
    const r = this.random();
    let acc = 0;
    const entry = DEMO_ROUTES.find((e) => (acc += e.weight) > r) ?? DEMO_ROUTES[0];
    const user = `u-${1000 + Math.floor(this.random() * 400)}`;
    const productId = 1 + Math.floor(this.random() * 60);
    const path = entry.route === '/products/:id' ? `/products/${productId}` : entry.route;
    const name = `${entry.method} ${entry.route}`;
    this.counts.requests++;
    const started = performance.now();
    const root = this.start('web', name, null, { 'http.method': entry.method, 'http.route': entry.route, 'http.target': path, 'user.id': user });
    root.setIndicator(true);
    let status = 200;
    let reason: string | undefined;
    try {
      await this.work(1, 4);
      switch (entry.route) {
        case '/':
          await this.recommendations(root, user);
          break;
        case '/products/:id':
          await this.product(root, productId);
          break;
        case '/checkout':
          await this.checkout(root, user);
          break;
        case '/account':
          await this.account(root, user);
          break;
        case '/login':
          await this.login(root, user);
          break;
      }
      await this.work(1, 3);
    } catch (err) {
      const failure = err instanceof DemoFailure ? err : new DemoFailure('Error', String(err), 500);
      status = failure.status;
      reason = failure.message;
    }
    const durationMs = performance.now() - started;
    const error = status >= 500;
    root.setTag('http.status_code', status);
    if (error) {
      root.setError(true);
      root.setTag('error.message', reason ?? '');
      this.counts.failed++;
      this.log(root, 'error', `${entry.method} ${path} failed with ${status}: ${reason ?? 'unknown error'}`, { status, user });
    } else {
      this.log(root, status >= 400 ? 'warn' : 'info', `${entry.method} ${path} ${status} in ${Math.round(durationMs)} ms`, { status, user });
    }
    this.metric(root, 'counter', 'http.requests', 1, { tags: { route: entry.route, status: String(status) } });
    this.metric(root, 'timer', 'http.request.duration', durationMs, { tags: { route: entry.route } });
    this.metric(root, 'set', 'users.active', user, {});
    this.finish(root);
    return { traceId: root.traceId, name, status, error, durationMs, reason };
  }

  /** Once a second: the gauges (a queue depth that grows while the database is slow). */
  tick(): void {
    const depth = this.inFlightPayments + (this.options.slowDb() ? 20 + Math.floor(this.random() * 30) : Math.floor(this.random() * 4));
    this.emitters.payments.gauge('payments.queue_depth', depth, { tags: { queue: 'charges' } });
    this.counts.samples++;
  }

  // ---- the flows ----------------------------------------------------------------

  private async recommendations(root: Span, user: string): Promise<void> {
    await this.call('api', 'GET /v1/recommendations', root, {}, async (api) => {
      const hit = await this.cacheGet(api, `recs:${user}`, 0.8);
      if (!hit) {
        await this.query(api, 'SELECT', 'recommendations', 'SELECT product_id, score FROM recommendations WHERE user_id = $1 ORDER BY score DESC LIMIT 12');
        await this.cacheSet(api, `recs:${user}`);
      }
    });
  }

  private async product(root: Span, id: number): Promise<void> {
    await this.call('api', 'GET /v1/products/:id', root, { 'product.id': String(id) }, async (api) => {
      const hit = await this.cacheGet(api, `product:${id}`, 0.7);
      if (!hit) {
        await this.query(api, 'SELECT', 'products', 'SELECT id, name, price, stock FROM products WHERE id = $1');
        await this.cacheSet(api, `product:${id}`);
      }
    });
  }

  private async checkout(root: Span, user: string): Promise<void> {
    const order = `o-${10_000 + Math.floor(this.random() * 90_000)}`;
    const items = 1 + Math.floor(this.random() * 4);
    const amount = Math.round((5 + this.random() * 195) * 100) / 100;
    await this.call('api', 'POST /v1/orders', root, { 'order.id': order }, async (api) => {
      await this.verifyToken(api, user, 0);
      await this.query(api, 'INSERT', 'orders', "INSERT INTO orders (id, user_id, items, amount, status) VALUES ($1, $2, $3, $4, 'pending')");
      await this.charge(api, order, amount);
      await this.query(api, 'UPDATE', 'orders', "UPDATE orders SET status = 'paid' WHERE id = $1");
      this.log(api, 'info', `order ${order} created for ${user}: ${items} items, ${amount.toFixed(2)} EUR`, { order, user, items, amount });
    });
  }

  private async account(root: Span, user: string): Promise<void> {
    await this.call('api', 'GET /v1/me', root, {}, async (api) => {
      await this.verifyToken(api, user, 0.04);
      await this.query(api, 'SELECT', 'users', 'SELECT id, email, name, created_at FROM users WHERE id = $1');
    });
  }

  private async login(root: Span, user: string): Promise<void> {
    await this.call('auth', 'POST /v1/sessions', root, {}, async (auth) => {
      await this.work(5, 20); // password hashing
      await this.query(auth, 'SELECT', 'users', 'SELECT id, password_hash FROM users WHERE email = $1');
      if (this.random() < 0.05) {
        this.log(auth, 'warn', `login refused for ${user}: wrong password`, { user });
        throw new DemoFailure('Unauthorized', 'wrong password', 401);
      }
      await this.cacheSet(auth, `session:${user}`);
      this.log(auth, 'info', `session opened for ${user}`, { user });
    });
  }

  // ---- the services -----------------------------------------------------------------

  private async verifyToken(parent: Span, user: string, expiredRate: number): Promise<void> {
    await this.call('auth', 'verify_token', parent, {}, async (auth) => {
      const hit = await this.cacheGet(auth, `session:${user}`, 0.9);
      if (!hit) await this.query(auth, 'SELECT', 'sessions', 'SELECT user_id, expires_at FROM sessions WHERE token_hash = $1');
      if (this.random() < expiredRate) {
        this.log(auth, 'warn', `token expired for ${user}`, { user });
        throw new DemoFailure('Unauthorized', 'token expired', 401);
      }
    });
  }

  private async cacheGet(parent: Span, key: string, hitRate: number): Promise<boolean> {
    return this.call('cache', 'GET', parent, { 'cache.key': key }, async (cache) => {
      await this.work(0.2, 1.5);
      const hit = this.random() < hitRate;
      cache.setTag('cache.hit', hit);
      this.metric(cache, 'counter', 'cache.requests', 1, { tags: { result: hit ? 'hit' : 'miss' } });
      if (!hit) this.log(cache, 'debug', `cache miss ${key}`, { key });
      return hit;
    });
  }

  private async cacheSet(parent: Span, key: string): Promise<void> {
    await this.call('cache', 'SET', parent, { 'cache.key': key }, async () => {
      await this.work(0.2, 1.5);
    });
  }

  private async query(parent: Span, op: string, table: string, sql: string): Promise<void> {
    await this.call('db', `${op} ${table}`, parent, { 'db.system': 'postgresql', 'db.operation': op, 'db.table': table }, async (db) => {
      this.metric(db, 'counter', 'db.queries', 1, { tags: { table, op } });
      const slow = this.options.slowDb();
      const timesOut = slow ? this.slowQueries++ % 5 === 0 : this.random() < 0.003;
      if (timesOut) {
        await sleep(DB_TIMEOUT_MS);
        this.counts.timeouts++;
        this.log(db, 'error', `canceling statement due to statement timeout (${DB_TIMEOUT_MS} ms): ${sql}`, { table, timeout_ms: DB_TIMEOUT_MS });
        throw new DemoFailure('QueryTimeout', `db timeout after ${DB_TIMEOUT_MS} ms`, 503);
      }
      const ms = slow ? 250 + this.random() * 1200 : 1 + this.random() * this.random() * 25;
      await sleep(ms);
      if (ms > 500) this.log(db, 'warn', `slow query (${Math.round(ms)} ms): ${sql}`, { table, duration_ms: Math.round(ms) });
    });
  }

  private async charge(parent: Span, order: string, amount: number): Promise<void> {
    await this.call('payments', 'charge', parent, { 'order.id': order, 'payment.provider': 'stripe' }, async (payments) => {
      this.inFlightPayments++;
      try {
        await this.work(60, 300); // the card network
        this.metric(payments, 'histogram', 'payments.amount', amount, { unit: 'EUR', tags: { currency: 'EUR' } });
        if (this.random() < 0.07) {
          const why = DECLINE_REASONS[Math.floor(this.random() * DECLINE_REASONS.length)] as string;
          this.counts.declined++;
          this.metric(payments, 'counter', 'payments.declined', 1, { tags: { reason: why } });
          this.log(payments, 'warn', `card declined: ${why} (order ${order}, ${amount.toFixed(2)} EUR)`, { order, reason: why, amount });
          throw new DemoFailure('CardDeclined', `card declined: ${why}`, 402);
        }
        const last4 = String(1000 + Math.floor(this.random() * 9000));
        this.log(payments, 'info', `charged ${amount.toFixed(2)} EUR to card ending ${last4} (order ${order})`, { order, amount });
      } finally {
        this.inFlightPayments--;
      }
    });
  }

  // ---- spans, logs, metrics ---------------------------------------------------------------

  private start(service: DemoService, name: string, parent: Span | null, tags: Record<string, string>): Span {
    this.counts.spans++;
    return this.emitters[service].startSpan(name, { parent, tags });
  }

  private finish(span: Span): void {
    if (span.error) this.counts.errorSpans++;
    span.finish();
  }

  /** A call into `service` as a child span of `parent`; a failure marks the span and goes on up. */
  private async call<T>(service: DemoService, name: string, parent: Span, tags: Record<string, string>, body: (span: Span) => Promise<T>): Promise<T> {
    const span = this.start(service, name, parent, tags);
    try {
      return await body(span);
    } catch (err) {
      // Server failures mark every span they pass through; a declined card marks the payments span only; a 4xx refusal marks none.
      const failure = err instanceof DemoFailure ? err : new DemoFailure('Error', String(err), 500);
      if (failure.status >= 500 || (failure.name === 'CardDeclined' && service === 'payments')) span.setError(failure);
      if (failure.status < 500) span.setTag('http.status_code', failure.status);
      throw failure;
    } finally {
      this.finish(span);
    }
  }

  private log(span: Span, level: LogSeverity, message: string, fields: Record<string, unknown>): void {
    span.log(level, message, fields);
    this.counts.logs++;
  }

  private metric(span: Span, kind: 'counter' | 'histogram' | 'timer', name: string, value: number, options: MetricOptions): void;
  private metric(span: Span, kind: 'set', name: string, value: string, options: MetricOptions): void;
  private metric(span: Span, kind: 'counter' | 'histogram' | 'timer' | 'set', name: string, value: number | string, options: MetricOptions): void {
    if (kind === 'set') span.set(name, String(value), options);
    else span[kind](name, Number(value), options);
    this.counts.samples++;
  }

  private work(minMs: number, maxMs: number): Promise<void> {
    return sleep(minMs + this.random() * (maxMs - minMs));
  }
}
