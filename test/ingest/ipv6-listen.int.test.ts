import { describe, expect, it } from 'vitest';
import { createGateway } from '../../ingest/gateway/gateway.js';
import { KafkaThreadSink } from '../../ingest/sink/kafka-thread-sink.js';
import { loadConfig } from '../../src/config/load-config.js';
import { splitHostPort } from '../../src/http/listen-address.js';

// Every listener on IPv6 loopback: the gateway starts, and the addresses it
// reports are usable as given (a URL for OTLP/HTTP; host:port with the host in
// brackets for the others). An OTLP/HTTP address reported as http://::1:4318
// (no brackets) once stopped the gateway from starting (Invalid URL).
describe('a gateway listening on IPv6', () => {
  it('starts and reports every address in a form a client can use', async () => {
    const config = loadConfig({
      env: {
        SSF_KAFKA_BROKERS: '127.0.0.1:9',
        SSF_GATEWAY_HTTP_LISTEN: '[::1]:0',
        SSF_GATEWAY_OTLP_HTTP_LISTEN: '[::1]:0',
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '[::1]:0',
        SSF_GATEWAY_UDP_LISTEN: '[::1]:0',
        SSF_GATEWAY_STATSD_LISTEN: '',
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      },
    });
    const gateway = createGateway(config, new KafkaThreadSink(config.kafka, { quiet: true }), { logLevel: false });
    const where = await gateway.listen();
    try {
      const otlp = new URL(where['otlp_http'] as string);
      expect(otlp.hostname).toBe('[::1]');
      for (const k of ['otlp_grpc', 'udp']) {
        expect(where[k], k).toMatch(/^\[::1\]:\d+$/);
        expect(splitHostPort(where[k] as string).host, k).toBe('::1');
      }
      // An empty export over IPv6: nothing to publish, answered 200.
      const r = await fetch(`${otlp.origin}/v1/traces`, { method: 'POST', body: new Uint8Array(0), headers: { 'content-type': 'application/x-protobuf' } });
      expect(r.status).toBe(200);
      // The 404 on the main port names OTLP's port.
      const miss = await fetch(`${where['http']}/v1/traces`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(miss.status).toBe(404);
      expect(((await miss.json()) as { error: { reason: string } }).error.reason).toContain(`port ${otlp.port} (gateway.otlpHttpListen)`);
    } finally {
      await gateway.close();
    }
  }, 60_000);
});
