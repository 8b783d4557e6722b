#!/usr/bin/env node
import { analyticsCommand } from './analytics-command.js';
import type { Command } from './command.js';
import { UsageError, wantsHelp } from './command.js';
import { demoCommand } from './demo-command.js';
import { emitCommand } from './emit-command.js';
import { gatewayCommand } from './gateway-command.js';
import { logsCommand } from './logs-command.js';
import { materializerCommand } from './materializer-command.js';
import { migrateCommand } from './migrate-command.js';
import { queryApiCommand } from './query-api-command.js';
import { serveCommand } from './serve-command.js';
import { sqlCommand } from './sql-command.js';
import { topCommand } from './top-command.js';
import { traceCommand } from './trace-command.js';

const commands: Command[] = [
  serveCommand,
  gatewayCommand,
  materializerCommand,
  queryApiCommand,
  emitCommand,
  migrateCommand,
  demoCommand,
  sqlCommand,
  traceCommand,
  logsCommand,
  topCommand,
  analyticsCommand,
];

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: ssf <command> [options]',
    '',
    'One event type (the SSF span) for logs, metrics and traces, from the application to SQL.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `ssf <command> --help` for a command's options. Settings: docs/configuration.md.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`ssf: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
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

process.exitCode = await main(process.argv.slice(2));
