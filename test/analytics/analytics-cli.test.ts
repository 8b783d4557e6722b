import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';

/** `ssf analytics` as a user types it, without any service: help and argument checks. */
describe('ssf analytics (command line)', () => {
  it('is listed by ssf --help and explains its jobs', async () => {
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/analytics\s+batch jobs/);
    const r = await runCli(['analytics', '--help']);
    expect(r.code).toBe(0);
    for (const job of ['slo-report', 'export', 'rebuild-rollups', 'replay']) expect(r.stdout).toMatch(new RegExp(`^  ${job} `, 'm'));
  });

  it.each([
    ['slo-report', /^Usage: ssf analytics slo-report --from TIME --to TIME/],
    ['export', /^Usage: ssf analytics export --table TABLE/],
    ['rebuild-rollups', /^Usage: ssf analytics rebuild-rollups --from TIME --to TIME/],
    ['replay', /^Usage: ssf analytics replay --from-file FILE/],
  ])('prints the help of %s', async (job, usage) => {
    const r = await runCli(['analytics', job, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stdout).toMatch(/-h, --help/);
  });

  it.each([
    [['analytics'], /say which job: slo-report, export, rebuild-rollups, replay/],
    [['analytics', 'report'], /unknown job "report"/],
    [['analytics', 'export', '--bogus'], /export: Unknown option '--bogus'.*ssf analytics export --help/s],
    [['analytics', 'rebuild-rollups', '--from', 'now-3h'], /rebuild-rollups: --to is required/],
    [['analytics', 'slo-report', '--from', 'now-3h', '--to', 'now', '--worst', '0'], /--worst must be a whole number >= 1/],
    [['analytics', 'replay', '--from-file', 'a.ndjson', '--from-kafka'], /give one source/],
    [['analytics', 'replay', '--from-kafka', '--topic', 't', '--partition', '0', '--start-offset', '0', '--brokers', ''], /no Kafka brokers/],
  ])('refuses %j with exit 2 and a clear message', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
