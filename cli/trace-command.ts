import { ApiClient, API_HELP, API_OPTIONS, apiTarget } from './api-client.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';

const HELP = `Usage: ssf trace <trace-id> [--json]

Prints one trace as a timeline: every span under its parent, with its
service, name, start offset, duration, errors, and its log lines
(GET /v1/traces/<trace-id>).

  ssf trace 3c6ef3b1a2d4f017

The id may be written as the pipeline prints it anywhere: 16 hex digits, a
decimal 64-bit integer (as Veneur prints it), or a 32-hex-digit W3C trace id.

Options:
  --json               the trace as JSON (its span tree) instead of text
${API_HELP}
  -h, --help           this help

Exit codes: 0 printed, 1 not found, refused or unreachable, 2 bad arguments.`;

/** The id forms query/ids.ts accepts, checked before asking. */
export function isTraceId(text: string): boolean {
  return /^-?\d{1,20}$/.test(text) || /^(0x)?[0-9a-fA-F]{16}$/.test(text) || /^[0-9a-fA-F]{32}$/.test(text);
}

export const traceCommand: Command = {
  name: 'trace',
  summary: 'print one trace as a timeline of its spans and logs',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, { ...API_OPTIONS, json: { type: 'boolean' } });
    const [id, extra] = positionals;
    if (id === undefined) throw new UsageError('give the trace id, e.g. ssf trace 3c6ef3b1a2d4f017');
    if (extra !== undefined) throw new UsageError(`one trace id at a time (unexpected "${extra}")`);
    if (!isTraceId(id)) throw new UsageError(`"${id}" is not a trace id: give 16 hex digits, a decimal 64-bit integer or a 32-hex-digit W3C trace id`);
    const client = new ApiClient(apiTarget(values));
    const path = `/v1/traces/${encodeURIComponent(id)}`;
    if (values.json) {
      const tree = await client.json<unknown>('GET', path, { query: { format: 'json' } });
      process.stdout.write(`${JSON.stringify(tree, null, 2)}\n`);
    } else {
      const text = await client.text('GET', path, { query: { format: 'text' } });
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
    return 0;
  },
};
