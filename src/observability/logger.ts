import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** `silent` writes nothing (tests, benches). */
  level: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Added to every line, e.g. `materializer`. */
  component?: string;
  /** Where the lines go. Default: stderr, written synchronously so the last lines before an exit are not lost. */
  stream?: DestinationStream;
}

/**
 * The processes' own log: JSON lines by pino, the same shape fastify writes
 * for HTTP requests (src/http/create-http-server.ts), so one reader parses
 * every line of every process. Call as pino: `log.warn({ partition }, 'insert failed')`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? pino.destination({ fd: 2, sync: true });
  const log = pino({ level: options.level }, stream);
  return options.component === undefined ? log : log.child({ component: options.component });
}
