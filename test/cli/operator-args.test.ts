import { beforeAll, describe, expect, it } from 'vitest';
import { apiTarget, DEFAULT_ADDRESS } from '../../cli/api-client.js';
import { freePort } from '../../src/net/free-port.js';
import { runCli } from './run-cli.js';

// A port nothing listens on (free a moment ago): the address is unreachable.
let NOWHERE = '';
beforeAll(async () => {
  NOWHERE = `http://127.0.0.1:${await freePort()}`;
});

describe('the operator commands refuse bad arguments with exit code 2', () => {
  it.concurrent.each([
    [['sql'], /give the query/],
    [['sql', 'SELECT 1', 'SELECT 2'], /as one argument/],
    [['sql', 'SELECT 1', '--format', 'xml'], /--format must be one of table, csv, tsv, json, ndjson, parquet/],
    [['sql', 'SELECT 1', '--format', 'parquet'], /give --out FILE/],
    [['sql', 'SELECT 1', '--param', '1x=3'], /--param takes NAME=VALUE/],
    [['sql', 'SELECT 1', '--param', 'novalue'], /--param takes NAME=VALUE/],
    [['sql', 'SELECT 1', '--address', 'udp://127.0.0.1:8128'], /--address must be http/],
    [['sql', 'SELECT 1', '--address', 'not a url'], /is not a URL/],
    [['trace'], /give the trace id/],
    [['trace', 'xyz'], /"xyz" is not a trace id/],
    [['trace', '0123456789abcdef', 'again'], /one trace id at a time/],
    [['logs', 'a', 'b'], /as one argument/],
    [['logs', '--severity', 'loud'], /--severity must be one of trace, debug, info, warn, error, fatal/],
    [['logs', '--since', 'yesterday'], /--since must be a duration/],
    [['logs', '--limit', '0'], /--limit must be a whole number from 1 to 1000/],
    [['logs', '--trace', 'nope'], /--trace "nope" is not a trace id/],
    [['logs', '--color', 'sometimes'], /--color is auto, always or never/],
    [['logs', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['top', '--interval', '10ms'], /--interval must be at least 200ms/],
    [['top', '--window', 'wide'], /--window must be a duration/],
    [['top', 'extra'], /unexpected argument "extra"/],
    [['demo', '--rate', '0'], /--rate must be more than 0/],
    [['demo', '--traces', '1.5'], /--traces must be a whole number/],
    [['demo', '--duration', '1m', '--traces', '5'], /give --duration or --traces, not both/],
    [['demo', '--duration', 'soon'], /--duration must be a duration/],
  ])('ssf %j', async (args, message) => {
    const r = await runCli(args, { SSF_ADDRESS: NOWHERE });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(new RegExp(`Run \`ssf ${args[0]} --help\` for usage`));
  });
});

describe('the operator commands', () => {
  it('each have --help and are listed in ssf --help', async () => {
    const overview = await runCli(['--help']);
    for (const name of ['sql', 'trace', 'logs', 'top', 'demo']) {
      expect(overview.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      const r = await runCli([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: ssf ${name}`));
      expect(r.stdout).toMatch(/--address URL/);
    }
  });

  it.each([[['sql', 'SELECT 1']], [['trace', '0123456789abcdef']], [['logs', 'timeout']], [['top', '--once']], [['demo', '--traces', '1']]])(
    'ssf %j says so and exits 1 when nothing answers at the address',
    async (args) => {
      const r = await runCli([...args, '--address', NOWHERE]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`cannot reach the pipeline at ${NOWHERE} (ECONNREFUSED). Is \`ssf serve\` running there?`);
    },
  );

  it("takes the address from --address, else an http(s) $SSF_ADDRESS, else ssf serve's; the token from --token or $SSF_TOKEN", async () => {
    const fromEnv = await runCli(['sql', 'SELECT 1'], { SSF_ADDRESS: NOWHERE });
    expect(fromEnv.stderr).toContain(`at ${NOWHERE} `);
    expect(apiTarget({}, { SSF_ADDRESS: 'https://ssf.example:8443/' })).toEqual({ address: 'https://ssf.example:8443', token: undefined });
    // A udp:// $SSF_ADDRESS is the emitter's, not an HTTP address.
    expect(apiTarget({}, { SSF_ADDRESS: 'udp://127.0.0.1:8128' }).address).toBe(DEFAULT_ADDRESS);
    expect(apiTarget({ address: 'http://a:1' }, { SSF_ADDRESS: 'http://b:2', SSF_TOKEN: 't' })).toEqual({ address: 'http://a:1', token: 't' });
    expect(apiTarget({ token: 'mine' }, { SSF_TOKEN: 't' }).token).toBe('mine');
  });
});
