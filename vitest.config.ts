import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing; integration tests (*.int.test.ts)
// share one real Kafka broker and one real ClickHouse HTTP endpoint, started
// once per run by test/setup/global-setup.ts.
// Worker threads inherit execArgv: with tsx loaded, a worker of the sources
// (the gateway's Kafka thread) runs as TypeScript, as in production it runs as the built JavaScript.
// --expose-gc: memory bounds are measured after a collection.
const TSX = ['--import', './test/setup/tsx-workers.mjs', '--expose-gc'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          execArgv: TSX,
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          execArgv: TSX,
          include: ['test/**/*.int.test.ts'],
          exclude: ['test/cluster/**', 'node_modules/**'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // The local multi-node cluster's fault tests: 3 Kafka brokers, 4
        // ClickHouse nodes, 2 gateways, 2 materializers. test/run.sh runs them
        // after the others; `npm run test:cluster` alone.
        test: {
          name: 'cluster',
          execArgv: TSX,
          include: ['test/cluster/**/*.int.test.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
