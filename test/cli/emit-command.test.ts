import { afterEach, describe, expect, it } from 'vitest';
import { udpReceiver, waitFor } from '../emitter/helpers.js';
import { runCli } from './run-cli.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function receiver() {
  const rx = await udpReceiver();
  cleanup.push(rx.close);
  return rx;
}

describe('ssf emit', () => {
  it('sends a counter with tags, unit and sample rate', async () => {
    const rx = await receiver();
    const r = await runCli([
      'emit',
      'counter',
      'deploys',
      '2',
      '--address',
      rx.address,
      '--service',
      'ci',
      '--tag',
      'env:prod',
      '--unit',
      'deploys',
      '--scope',
      'global',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    await waitFor(() => rx.spans.length === 1);
    expect(rx.spans[0]?.service).toBe('ci');
    expect(rx.spans[0]?.metrics[0]).toMatchObject({ type: 'counter', name: 'deploys', value: 2, tags: { env: 'prod' }, unit: 'deploys', scope: 'global' });
  });

  it('sends a log record and a status check', async () => {
    const rx = await receiver();
    expect((await runCli(['emit', 'log', 'warn', 'disk almost full', '--field', 'mount=/var', '--address', rx.address])).code).toBe(0);
    expect((await runCli(['emit', 'status', 'backup', 'critical', '--message', 'no space', '--address', rx.address])).code).toBe(0);
    await waitFor(() => rx.spans.length === 2);
    const log = rx.spans.find((s) => s.logs.length > 0);
    expect(log?.logs[0]).toMatchObject({ severity: 'warn', body: 'disk almost full', attributes: { mount: '/var' } });
    const status = rx.spans.find((s) => s.metrics.length > 0);
    expect(status?.metrics[0]).toMatchObject({ type: 'status', status: 'critical', message: 'no space' });
  });

  it('times a command as a span: exit code, error flag, and the trace passed to the child', async () => {
    const rx = await receiver();
    // The child is itself an `ssf emit span`: it must join the trace through the environment.
    const inner = `${process.execPath} --import tsx ${JSON.stringify(new URL('../../cli/main.ts', import.meta.url).pathname)} emit span inner --duration-ms 1 --address ${rx.address}`;
    const r = await runCli(['emit', 'exec', '--name', 'backup', '--indicator', '--address', rx.address, '--', 'sh', '-c', `${inner} && exit 3`]);
    expect(r.code).toBe(3);
    await waitFor(() => rx.spans.length === 2, 15_000);
    const outer = rx.spans.find((s) => s.name === 'backup');
    const child = rx.spans.find((s) => s.name === 'inner');
    expect(outer).toMatchObject({ isTrace: true, error: true, indicator: true, tags: { command: 'sh', exit_code: '3' } });
    expect(child?.traceId).toBe(outer?.traceId);
    expect(child?.parentId).toBe(outer?.id);
  });

  it.each([
    [['emit'], /say what to emit/],
    [['emit', 'countr', 'x'], /unknown kind "countr"/],
    [['emit', 'gauge', 'g', 'high'], /VALUE must be a number/],
    [['emit', 'log', 'loud', 'x'], /LEVEL must be one of/],
    [['emit', 'counter', 'c', '--sample-rate', '3'], /--sample-rate must be in/],
    [['emit', 'counter', 'c', '--bogus'], /Unknown option '--bogus'/],
    [['emit', 'span', 's'], /needs --duration-ms/],
    [['emit', 'exec'], /usage: ssf emit exec/],
    [['emit', 'counter', 'c', '--parent', 'nope'], /not a valid W3C traceparent/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('refuses %j with a clear message and exit code 2', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(message);
  });

  it('prints help for every command and exits 0', async () => {
    for (const args of [['--help'], ['emit', '--help'], ['migrate', '--help']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: ssf/);
    }
  });

  it('exits 1 and says why when nothing could be delivered', async () => {
    const r = await runCli(['emit', 'counter', 'c', '--address', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not delivered \(send_failed: 1\)/);
  });
});
