import type { FastifyInstance } from 'fastify';
import { isLoopback, TenantAuth } from '../../src/auth/tenants.js';
import { type Config, secondsToMs } from '../../src/config/config-schema.js';
import { Emitter } from '../../src/emitter/emitter.js';
import { silentLogger } from '../../src/emitter/logger.js';
import type { Outcome, Transport } from '../../src/emitter/transports/transport.js';
import { nowNs } from '../../src/emitter/clock.js';
import { createHttpServer } from '../../src/http/create-http-server.js';
import type { SpanSink } from '../sink/span-sink.js';
import { CardinalityGuard } from './cardinality-guard.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { registerIngestRoutes } from './ingest-routes.js';
import { packOf, SpanIntake } from './span-intake.js';
import { StreamListener } from './stream-listener.js';
import { joinHostPort, splitHostPort } from '../../src/http/listen-address.js';
import { UdpListener } from './udp-listener.js';
import { OtlpGrpcListener } from '../otlp/otlp-grpc.js';
import { OtlpHttpListener } from '../otlp/otlp-http.js';
import { otlpBounds } from '../otlp/otlp-bounds.js';
import { InFlightBytes } from './in-flight-bytes.js';
import { OtlpMetrics } from '../otlp/otlp-metrics.js';
import type { UdpListenerOptions } from './udp-listener.js';
import { eventWindow } from './event-window.js';
import { TenantRateLimit } from './tenant-rate-limit.js';
import { StatsdAggregator } from '../statsd/statsd-aggregator.js';
import { StatsdAggregateEncoder } from '../statsd/statsd-aggregate-bytes.js';
import { capConnectionsPerSource } from '../../src/net/source-connection-cap.js';
import type { SourceConnectionLimit } from '../../src/net/source-connection-cap.js';

export interface GatewayOptions {
  /** An HTTP server to add the routes to (all-in-one mode shares one with the query API). Default: a new one. */
  app?: FastifyInstance;
  /** statsd lines -> spans; the gateway's statsd listener is off without it. */
  parseStatsd?: UdpListenerOptions['parse'];
  /** statsd datagrams straight to SSFSample bytes when the sink forwards bytes (ingest/statsd/statsd-sample-bytes.ts). */
  statsdFastPath?: UdpListenerOptions['fast'];
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | false;
}

export interface Gateway {
  app: FastifyInstance;
  metrics: GatewayMetrics;
  intake: SpanIntake;
  sink: SpanSink;
  auth: TenantAuth;
  /** Starts every configured listener; returns where each one listens. */
  listen(): Promise<Record<string, string>>;
  /** Stops reading, flushes what was read into the sink, closes the sink. */
  close(): Promise<void>;
}

/**
 * The ingestion gateway: HTTP, UDP SSF, the framed stream (UNIX/TCP),
 * statsd and OTLP (HTTP and gRPC), all through one SpanIntake into one sink (Kafka, or ClickHouse in
 * all-in-one mode).
 */
type ListenerName = 'udp' | 'statsd' | 'tcp' | 'unix';

/** The paths OTLP/HTTP exporters post to (docs/otlp.md): on the gateway's HTTP port they are a mistaken port. */
const OTLP_HTTP_PATHS: readonly string[] = ['/v1/traces', '/v1/logs', '/v1/metrics'];

export function createGateway(config: Readonly<Config>, sink: SpanSink, options: GatewayOptions = {}): Gateway {
  const g = config.gateway;
  const metrics = new GatewayMetrics();
  sink.observer = metrics;
  const intake = new SpanIntake(
    metrics,
    new CardinalityGuard({ tagSetsPerMetric: g.maxTagSetsPerMetric, namesPerTenant: g.maxMetricNamesPerTenant, names: g.maxMetricNames, series: g.maxSeries }),
    (nowMs) => eventWindow(config, nowMs),
    { maxSpanBytes: g.maxSpanBytes },
  );
  const auth = new TenantAuth(g);
  // One budget of request bytes for both OTLP listeners.
  const otlpInFlight = new InFlightBytes(g.otlpMaxInFlightBytes);
  // Fairness between tenants: with authentication off, or one tenant only, there is nobody to be
  // fair to (unless the operator gave a tenant a rate of its own).
  const tenants = new Set([...auth.tenants, ...Object.values(g.listenerTenants)]);
  const limits =
    auth.required && (tenants.size > 1 || Object.keys(g.tenantRateLimits).length > 0)
      ? new TenantRateLimit({ rateBytes: g.tenantRateLimitBytes, burstBytes: g.tenantBurstBytes, perTenant: g.tenantRateLimits })
      : undefined;
  const ownsApp = options.app === undefined;
  // Every TCP listener's cap per source address, under its global one: one client cannot hold them all.
  const perSource: SourceConnectionLimit = {
    maxPerSource: g.maxConnectionsPerSource,
    ipv6PrefixLength: g.sourceIpv6PrefixLength,
    capLoopback: g.capLoopbackSources,
  };
  // The port OTLP/HTTP is received on once listening: an exporter pointed at this HTTP port by mistake is told so in
  // its 404. Only the port: the 404 is answered before authentication, and the host may be an internal address.
  let otlpHttpPort = g.otlpHttpListen === '' ? undefined : splitHostPort(g.otlpHttpListen).port;
  const app =
    options.app ??
    createHttpServer({
      logLevel: options.logLevel ?? config.log.level,
      bodyLimit: g.maxBodyBytes,
      requestTimeoutMs: secondsToMs(g.httpRequestTimeoutS),
      notFoundHint: (method, path) =>
        method === 'POST' && OTLP_HTTP_PATHS.includes(path)
          ? otlpHttpPort !== undefined
            ? `OTLP/HTTP is received on port ${otlpHttpPort} (gateway.otlpHttpListen), path ${path}; this port takes POST /v1/ssf`
            : 'the OTLP/HTTP listener is off (gateway.otlpHttpListen is empty); this port takes POST /v1/ssf'
          : undefined,
    });
  if (ownsApp) {
    // The listener's connections are bounded as the OTLP and stream listeners' are: Node's
    // maxConnections closes one more as it is accepted, and 'drop' counts it.
    app.server.maxConnections = g.httpMaxConnections;
    app.server.on('drop', () => metrics.refused('http', 'GW_ERR_HTTP_TOO_MANY_CONNECTIONS', 1));
    capConnectionsPerSource(app.server, perSource, () => metrics.refused('http', 'GW_ERR_SOURCE_TOO_MANY_CONNECTIONS', 1));
  }
  registerIngestRoutes(app, {
    auth,
    intake,
    sink,
    metrics,
    maxDecompressedBytes: g.maxDecompressedBytes,
    inFlight: new InFlightBytes(g.httpMaxInFlightBytes),
    otlpInFlight,
    limits,
  });

  // The gateway's own spans go straight into the intake (protocol "self"),
  // never through a listener, so tracing the gateway can never loop.
  const selfTransport: Transport = {
    protocol: 'self',
    ready: true,
    async send(spans) {
      const result = intake.fromEncoded(spans, g.defaultTenant, 'self', nowNs());
      try {
        await sink.publish(packOf(result));
        return spans.map((): Outcome => null);
      } catch {
        return spans.map((): Outcome => 'send_failed');
      }
    },
    close: () => Promise.resolve(),
  };
  const tracer = new Emitter({
    transport: selfTransport,
    service: 'ssf-gateway',
    traceSampleRate: g.selfTraceSampleRate,
    logger: silentLogger,
    flushIntervalMs: 1000,
  });
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/v1/ssf')) request.startNs = nowNs();
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.request(request.routeOptions.url ?? 'unknown', reply.statusCode);
    if (request.startNs === 0n) return;
    const span = tracer.startSpan(`${request.method} ${request.routeOptions.url ?? request.url}`, {
      startTime: request.startNs,
      tags: { 'http.status_code': String(reply.statusCode), 'request.id': request.id, tenant: request.tenant },
    });
    if (reply.statusCode >= 500) span.setError(true);
    span.finish();
  });
  if (!app.hasRequestDecorator('startNs')) app.decorateRequest('startNs', 0n);

  app.get('/-/ready', async (_request, reply) => {
    const status = sink.check ? await sink.check() : sink.status();
    return reply.status(status.ok && sink.accepting ? 200 : 503).send({ ready: status.ok && sink.accepting, sink: { name: sink.name, ...status } });
  });

  // Listeners without credentials stamp the tenant configured for them; with
  // authentication required, or on an address off loopback (anyone who reaches
  // it writes), one that has none is not started (docs/security.md).
  const skipped: string[] = [];
  const tenantOf = (listener: ListenerName, address: string): string | undefined => {
    if (address === '') return undefined;
    const tenant = g.listenerTenants[listener] ?? (auth.required || !isLoopback(address) ? undefined : g.defaultTenant);
    if (tenant === undefined) skipped.push(listener);
    return tenant;
  };
  const udp: UdpListener[] = [];
  const streams: StreamListener[] = [];
  const udpTenant = tenantOf('udp', g.udpListen);
  if (udpTenant !== undefined)
    udp.push(
      new UdpListener({ address: g.udpListen, receiveBufferBytes: g.udpReceiveBufferBytes, protocol: 'udp', tenant: udpTenant, limits }, intake, sink, metrics),
    );
  const statsdTenant = options.parseStatsd ? tenantOf('statsd', g.statsdListen) : undefined;
  if (statsdTenant !== undefined && options.parseStatsd)
    udp.push(
      new UdpListener(
        {
          address: g.statsdListen,
          receiveBufferBytes: g.udpReceiveBufferBytes,
          protocol: 'statsd',
          tenant: statsdTenant,
          parse: options.parseStatsd,
          fast: options.statsdFastPath,
          aggregate: g.statsdAggregate
            ? new StatsdAggregateEncoder(new StatsdAggregator(g.statsdFlushIntervalMs, g.statsdMaxSamples, Date.now, g.statsdHistogramSamples))
            : undefined,
          limits,
        },
        intake,
        sink,
        metrics,
      ),
    );
  const streamLimits = [secondsToMs(g.streamIdleTimeoutS), secondsToMs(g.streamFrameTimeoutS), g.streamMaxConnections, perSource] as const;
  const unixTenant = tenantOf('unix', g.unixSocket);
  if (unixTenant !== undefined) streams.push(new StreamListener({ path: g.unixSocket }, unixTenant, intake, sink, metrics, ...streamLimits, limits));
  const tcpTenant = tenantOf('tcp', g.tcpListen);
  if (tcpTenant !== undefined) streams.push(new StreamListener({ address: g.tcpListen }, tcpTenant, intake, sink, metrics, ...streamLimits, limits));
  if (skipped.length > 0)
    app.log.warn(
      { listeners: skipped },
      `not started: ${skipped.join(', ')} (no credentials on these listeners, and authentication is required or they listen off loopback; give each a tenant in gateway.listenerTenants to start it)`,
    );
  const otlpDeps = {
    intake,
    sink,
    auth,
    metrics,
    otlp: new OtlpMetrics(metrics.registry),
    maxBodyBytes: g.maxBodyBytes,
    maxDecompressedBytes: g.maxDecompressedBytes,
    limits,
    expansion: { maxEvents: g.otlpMaxEvents, maxBytes: g.otlpMaxOutputBytes },
  };
  const bounds = otlpBounds(g, otlpInFlight, perSource);
  const otlpHttp = g.otlpHttpListen ? new OtlpHttpListener(g.otlpHttpListen, otlpDeps, bounds) : undefined;
  const otlpGrpc = g.otlpGrpcListen ? new OtlpGrpcListener(g.otlpGrpcListen, otlpDeps, bounds) : undefined;

  let closed = false;
  return {
    app,
    metrics,
    intake,
    sink,
    auth,
    async listen() {
      const where: Record<string, string> = {};
      try {
        if (ownsApp) {
          const { host, port } = splitHostPort(g.httpListen);
          const url = await app.listen({ host, port });
          where['http'] = url;
        }
        for (const l of udp) {
          const { host, port } = await l.listen();
          where[l.protocol] = joinHostPort(host, port);
        }
        for (const s of streams) {
          const at = await s.listen();
          where[at.startsWith('/') ? 'unix' : 'tcp'] = at;
        }
        if (otlpHttp) {
          where['otlp_http'] = await otlpHttp.listen();
          otlpHttpPort = Number(new URL(where['otlp_http']).port);
        }
        if (otlpGrpc) where['otlp_grpc'] = await otlpGrpc.listen();
      } catch (err) {
        // A gateway that could not open every listener it was given is not started: what did
        // open closes (else a half-started process would keep serving, e.g. HTTP without OTLP).
        await this.close();
        throw err;
      }
      return where;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...udp.map((l) => l.close()), ...streams.map((s) => s.close()), otlpHttp?.close(), otlpGrpc?.close()]);
      if (ownsApp) await app.close();
      await tracer.close(2000);
      await sink.close();
    },
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    startNs: bigint;
  }
}
