import { createClickHouse } from '../src/clickhouse/create-client.js';
import { migrate } from '../src/clickhouse/migrations.js';
import { loadConfig } from '../src/config/load-config.js';
import type { Command } from './command.js';
import { parse, UsageError } from './command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create or update the ClickHouse tables',
  help: `Usage: ssf migrate [--clickhouse-url URL] [--database NAME]

Applies the migrations under schema/clickhouse/ that are not yet recorded in
<database>.schema_migrations. Safe to run any number of times and from several
processes at once. The services also run it when they start.

Options:
  --clickhouse-url URL   a ClickHouse server (default $SSF_CLICKHOUSE_URL; empty: the local engine, in
                         $SSF_CLICKHOUSE_DATA_PATH, default ./data/clickhouse)
  --database NAME        default $SSF_CLICKHOUSE_DATABASE or ssf
  -h, --help             this help`,
  async run(args) {
    const { values, positionals } = parse(args, { 'clickhouse-url': { type: 'string' }, database: { type: 'string' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = loadConfig({
      overrides: { clickhouse: { url: values['clickhouse-url'], database: values.database } },
    });
    const ch = await createClickHouse(config.clickhouse);
    try {
      const result = await migrate(ch, config, (line) => console.log(line));
      console.log(
        `${result.applied.length} applied, ${result.alreadyApplied} already applied (ClickHouse at ${ch.endpoint}, database ${ch.database}, log body index: ${result.bodyIndex})`,
      );
      return 0;
    } finally {
      await ch.close();
    }
  },
};
