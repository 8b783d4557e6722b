#!/usr/bin/env -S node --max-semi-space-size=4
import type { Command } from './command.js';
import { UsageError, wantsHelp } from './command.js';

/**
 * The commands, by name, each module loaded only when it is asked for: a
 * gateway never loads the ClickHouse client, the emitter or the query side
 * (about 5 MB of its RSS, measured idle). A test checks each name against
 * its command's.
 */
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve-command.js')).serveCommand,
  gateway: async () => (await import('./gateway-command.js')).gatewayCommand,
  materializer: async () => (await import('./materializer-command.js')).materializerCommand,
  'query-api': async () => (await import('./query-api-command.js')).queryApiCommand,
  emit: async () => (await import('./emit-command.js')).emitCommand,
  migrate: async () => (await import('./migrate-command.js')).migrateCommand,
  demo: async () => (await import('./demo-command.js')).demoCommand,
  sql: async () => (await import('./sql-command.js')).sqlCommand,
  trace: async () => (await import('./trace-command.js')).traceCommand,
  logs: async () => (await import('./logs-command.js')).logsCommand,
  top: async () => (await import('./top-command.js')).topCommand,
  analytics: async () => (await import('./analytics-command.js')).analyticsCommand,
};

async function overview(): Promise<string> {
  const all = await Promise.all(Object.values(commands).map((load) => load()));
  const width = Math.max(...all.map((c) => c.name.length));
  return [
    'Usage: ssf <command> [options]',
    '',
    'One event type (the SSF span) for logs, metrics and traces, from the application to SQL.',
    '',
    'Commands:',
    ...all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `ssf <command> --help` for a command's options. Settings: docs/configuration.md.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(await overview());
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (load === undefined) {
    console.error(`ssf: unknown command "${name}"\n\n${await overview()}`);
    return 2;
  }
  const command = await load();
  if (wantsHelp(args)) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`ssf ${command.name}: ${err.message}\nRun \`ssf ${command.name} --help\` for usage.`);
      return 2;
    }
    const code = (err as { code?: unknown }).code;
    console.error(`ssf ${command.name}: ${err instanceof Error ? err.message : String(err)}${typeof code === 'string' ? ` [${code}]` : ''}`);
    return 1;
  }
}

// A reader that stops early (`ssf logs | head`) closes the pipe: the next
// write fails with EPIPE. Stop quietly, as Unix tools do, instead of dying of
// an unhandled 'error' event with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

process.exitCode = await main(process.argv.slice(2));
