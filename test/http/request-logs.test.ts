import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/create-http-server.js';

async function logsOf(level: 'debug' | 'info'): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const app = createHttpServer({ logLevel: level, bodyLimit: 1024, logStream: { write: (l) => void lines.push(l) } });
  app.get('/ok', async () => ({ ok: true }));
  await app.inject({ method: 'GET', url: '/ok', headers: { 'x-request-id': 'req-1' } });
  await app.inject({ method: 'GET', url: '/missing', headers: { 'x-request-id': 'req-2' } });
  await app.close();
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('request logs', () => {
  it('write one line per request at debug, with the request id, status and time', async () => {
    const logs = await logsOf('debug');
    const requests = logs.filter((l) => l['msg'] === 'request' || l['msg'] === 'request refused');
    expect(requests.map((l) => [l['reqId'], l['url'], l['status'], l['msg']])).toEqual([
      ['req-1', '/ok', 200, 'request'],
      ['req-2', '/missing', 404, 'request refused'],
    ]);
    expect(typeof requests[0]?.['ms']).toBe('number');
    expect(logs.some((l) => l['msg'] === 'incoming request' || l['msg'] === 'request completed')).toBe(false);
  });

  it('keep only refused requests at info', async () => {
    const logs = await logsOf('info');
    expect(logs.map((l) => [l['reqId'], l['status']])).toEqual([['req-2', 404]]);
  });
});
