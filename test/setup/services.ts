import { inject } from 'vitest';

// What test/setup/global-setup.ts started for this run (integration tests only).
declare module 'vitest' {
  export interface ProvidedContext {
    clickhouseUrl: string;
    kafkaBrokers: string[];
  }
}

export function clickhouseUrl(): string {
  return inject('clickhouseUrl');
}

export function kafkaBrokers(): string[] {
  return inject('kafkaBrokers');
}

/** A database name of its own for each test file, so files never see each other's rows. */
export function uniqueDatabase(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
}
