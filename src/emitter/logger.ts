/**
 * The emitter logs through this interface instead of bundling a logger.
 * Pass your own (pino, winston and console all fit), or `silentLogger`.
 */
export interface EmitterLogger {
  warn(message: string, context?: Record<string, unknown>): void;
  debug?(message: string, context?: Record<string, unknown>): void;
}

export const consoleLogger: EmitterLogger = {
  warn(message, context) {
    console.warn(`[ssf-emitter] ${message}`, context ?? '');
  },
};

export const silentLogger: EmitterLogger = { warn() {} };
