import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

/** One `ssf` subcommand. */
export interface Command {
  name: string;
  /** One line for `ssf --help`. */
  summary: string;
  /** The whole `ssf <name> --help` text. */
  help: string;
  /** Returns the exit code. Throw UsageError for bad arguments (exit 2). */
  run(args: string[]): Promise<number>;
}

/** A bad command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** node:util parseArgs with our error type: unknown flags and missing values become UsageErrors. */
export function parse<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[\w+\]: /, ''));
  }
}

export function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  const head = end === -1 ? args : args.slice(0, end);
  return head.includes('--help') || head.includes('-h');
}

export function parseNumber(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(n))
    throw new UsageError(`${what} must be a number (got ${value === undefined ? 'nothing' : `"${value}"`})`);
  return n;
}

/** `key:value` or `key=value` pairs (veneur-emit uses key:value). */
export function parseTags(values: string[] | undefined, flag: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const v of values ?? []) {
    const at = v.search(/[:=]/);
    if (at <= 0) throw new UsageError(`${flag} takes key:value (got "${v}")`);
    tags[v.slice(0, at)] = v.slice(at + 1);
  }
  return tags;
}
