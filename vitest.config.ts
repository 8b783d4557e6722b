import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing; integration tests (*.int.test.ts)
// share one real Kafka broker and one real ClickHouse HTTP endpoint, started
// once per run by test/setup/global-setup.ts.
export default defineConfig({
  test: {
    // Worker threads inherit execArgv: with tsx loaded, a worker of the
    // sources (the gateway's Kafka thread) runs as TypeScript, as in production it runs as the built JavaScript.
    execArgv: ['--import', 'tsx'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
