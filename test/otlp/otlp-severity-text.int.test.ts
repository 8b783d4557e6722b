/**
 * Log records sent with a severity text and no severity number (the
 * number UNSPECIFIED, 0), through the OpenTelemetry JS SDK's exporters:
 * protobuf takes the direct path, JSON the general one. A level name as
 * text gives the severity, so `GET /v1/logs?severity=...` finds them; any
 * other text leaves it unspecified.
 */
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';

let aio: AllInOne;

const SENT: ReadonlyArray<[text: string, severity: string, number: number]> = [
  ['ERROR', 'error', 17],
  ['Warning', 'warn', 13],
  ['info', 'info', 9],
  ['DEBUG2', 'debug', 6],
  ['CRITICAL', 'fatal', 21],
  ['notice', 'unspecified', 0],
];

async function send(service: string, exporter: LogRecordExporter): Promise<void> {
  const logs = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': service }), processors: [new SimpleLogRecordProcessor({ exporter })] });
  const logger = logs.getLogger('severity-text');
  for (const [text] of SENT) logger.emit({ severityText: text, body: `text ${text}` });
  // A number given wins over the text.
  logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'ERROR', body: 'number wins' });
  await logs.forceFlush();
  await logs.shutdown();
}

beforeAll(async () => {
  aio = await startAllInOne('otlp_severity_text', {}, 10);
  const otlp = aio.where['otlp_http'] as string;
  await send('proto', new LogsProto({ url: `${otlp}/v1/logs` }));
  await send('json', new LogsJson({ url: `${otlp}/v1/logs` }));
}, 180_000);

afterAll(async () => {
  await aio?.close();
});

interface Log {
  body: string;
  severity: string;
  attributes: Record<string, string>;
}

describe('a log record with a severity text and no number', () => {
  for (const service of ['proto', 'json']) {
    it(`takes its severity from a level name (${service})`, async () => {
      const r = await fetch(`${aio.http}/v1/logs?service=${service}&from=now-1h&order=asc&limit=100`);
      expect(r.status).toBe(200);
      const logs = ((await r.json()) as { logs: Log[] }).logs;
      const got = new Map(logs.map((l) => [l.body, [l.severity, l.attributes['otel.severity_text']]]));
      for (const [text, severity] of SENT) expect(got.get(`text ${text}`), text).toEqual([severity, text]);
      expect(got.get('number wins')).toEqual(['info', 'ERROR']);
      const errors = await fetch(`${aio.http}/v1/logs?service=${service}&severity=error&from=now-1h`);
      expect(((await errors.json()) as { logs: Log[] }).logs.map((l) => l.body).sort()).toEqual(['text CRITICAL', 'text ERROR']);
    });
  }
});
