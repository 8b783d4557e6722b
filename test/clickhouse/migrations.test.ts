import { describe, expect, it } from 'vitest';
import { loadMigrations, renderMigration } from '../../src/clickhouse/migrations.js';
import type { RenderContext } from '../../src/clickhouse/migrations.js';
import { loadConfig } from '../../src/config/load-config.js';
import { FOLDED_BODY } from '../../query/logs/body-tokens.js';

const retention = loadConfig({ env: {} }).retention;
const single: RenderContext = { database: 'ssf', cluster: '', retention, bodyIndex: 'text' };
const cluster: RenderContext = { ...single, cluster: 'obs' };

describe('migrations', () => {
  it('are numbered without gaps', () => {
    const versions = loadMigrations().map((m) => m.version);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
  });

  it('render for one server with every placeholder filled', () => {
    for (const m of loadMigrations()) {
      for (const sql of renderMigration(m, single)) {
        expect(sql).not.toMatch(/\$\{/);
        // CREATE OR REPLACE VIEW: a plain view holds no data, so replacing it is idempotent too (0017).
        expect(sql).toMatch(
          /^(--[^\n]*\n)*(CREATE (TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS|CREATE OR REPLACE VIEW|ALTER TABLE|DETACH TABLE|ATTACH TABLE IF NOT EXISTS|DROP VIEW IF EXISTS) `ssf`\./,
        );
      }
    }
  });

  it('reload a view after ALTER ... MODIFY QUERY (attached first, in case a run stopped between the two)', () => {
    const m = loadMigrations().find((x) => x.version === 7);
    if (m === undefined) throw new Error('no migration 7');
    const sql = renderMigration(m, single);
    const at = sql.findIndex((s) => /^ALTER TABLE `ssf`\.trace_index_mv MODIFY QUERY/m.test(s));
    expect(at).toBeGreaterThan(0);
    expect(sql.slice(at - 1, at + 3).map((s) => s.split('\n')[0])).toEqual([
      'ATTACH TABLE IF NOT EXISTS `ssf`.trace_index_mv',
      'ALTER TABLE `ssf`.trace_index_mv MODIFY QUERY',
      'DETACH TABLE `ssf`.trace_index_mv',
      'ATTACH TABLE IF NOT EXISTS `ssf`.trace_index_mv',
    ]);
  });

  it('use the configured database and retention', () => {
    const sql = loadMigrations()
      .flatMap((m) => renderMigration(m, { ...single, database: 'obs_prod', retention: { ...retention, logsDays: 7 } }))
      .join('\n');
    expect(sql).not.toContain('`ssf`.');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS `obs_prod`.logs');
    expect(sql).toMatch(/TTL toDateTime\(timestamp\) \+ toIntervalDay\(7\)/);
    expect(() => renderMigration(loadMigrations()[0]!, { ...single, database: 'x`; DROP' })).toThrow(/not a plain identifier/);
  });

  it('fall back to a token bloom filter where the text index is missing', () => {
    const logs = loadMigrations().find((m) => m.name === 'logs')!;
    expect(renderMigration(logs, single).join()).toContain("TYPE text(tokenizer = 'splitByNonAlpha')");
    expect(renderMigration(logs, { ...single, bodyIndex: 'tokenbf' }).join()).toContain('TYPE tokenbf_v1(32768, 3, 0)');
  });

  it('0016: the case-folded body index on the expression the search names, of the kind the server has, on the local tables of a cluster', () => {
    const m = loadMigrations().find((x) => x.version === 16);
    if (m === undefined) throw new Error('no migration 16');
    const index = `idx_body_folded ${FOLDED_BODY} TYPE`;
    expect(renderMigration(m, single)).toEqual([
      expect.stringContaining(`ALTER TABLE \`ssf\`.logs ADD INDEX IF NOT EXISTS ${index} text(tokenizer = 'splitByNonAlpha') GRANULARITY 1`),
      expect.stringMatching(/\nALTER TABLE `ssf`\.logs MATERIALIZE INDEX idx_body_folded$/),
    ]);
    expect(renderMigration(m, { ...single, bodyIndex: 'tokenbf' })[0]).toContain(`${index} tokenbf_v1(32768, 3, 0) GRANULARITY 1`);
    // An index is the local table's: the Distributed table in front has none.
    expect(
      renderMigration(m, cluster).map(
        (s) =>
          s
            .replace(/^(--[^\n]*\n)*/, '')
            .split(' ADD INDEX')[0]
            ?.split(' MATERIALIZE')[0],
      ),
    ).toEqual(['ALTER TABLE `ssf`.logs_local ON CLUSTER `obs`', 'ALTER TABLE `ssf`.logs_local ON CLUSTER `obs`']);
    expect(renderMigration(m, { ...cluster, clusterMode: 'sharded' }).map((s) => /ALTER TABLE (\S+) (ON|ADD|MAT)/.exec(s)?.slice(1, 3))).toEqual([
      ['`ssf`.logs_local', 'ADD'],
      ['`ssf`.logs_local', 'MAT'],
    ]);
  });

  it('derive the cluster variant: local replicated tables, distributed tables, views on local tables', () => {
    const statements = loadMigrations().flatMap((m) => renderMigration(m, cluster));
    const spansLocal = statements.find((s) => s.includes('`ssf`.spans_local ON CLUSTER'))!;
    expect(spansLocal).toContain("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/ssf/spans_local', '{replica}')");
    expect(statements).toContain(
      'CREATE TABLE IF NOT EXISTS `ssf`.spans ON CLUSTER `obs` AS `ssf`.spans_local\nENGINE = Distributed(`obs`, `ssf`, spans_local, cityHash64(trace_id))',
    );
    const rollup = statements.find((s) => s.includes('`ssf`.metrics_1m_local ON CLUSTER'))!;
    expect(rollup).toContain('ENGINE = ReplicatedAggregatingMergeTree(');
    const hourly = statements.find((s) => s.includes('`ssf`.metrics_1h_local ON CLUSTER'))!;
    expect(hourly).toContain('AS `ssf`.metrics_1m_local');
    const mv = statements.find((s) => s.includes('trace_index_mv ON CLUSTER'))!;
    expect(mv).toContain('TO `ssf`.trace_index_local');
    expect(mv).toContain('FROM `ssf`.spans_local');
    // 0007: a column added to the local and the Distributed table; the view's query moved to the local tables.
    const added = (table: string): boolean =>
      statements.some((s) =>
        s.endsWith(`ALTER TABLE \`ssf\`.${table} ON CLUSTER \`obs\` ADD COLUMN IF NOT EXISTS trace_id_high Int64 DEFAULT 0 CODEC(ZSTD(1))`),
      );
    expect(added('spans_local')).toBe(true);
    expect(added('spans')).toBe(true);
    const modify = statements.find((s) => s.includes('trace_index_mv ON CLUSTER `obs` MODIFY QUERY'))!;
    expect(modify).toContain('FROM `ssf`.spans_local');
    for (const s of statements) {
      expect(s).toContain('ON CLUSTER `obs`');
      if (/ENGINE = (?!Replicated)\w*MergeTree/.test(s)) throw new Error(`a non-replicated engine is left in the cluster variant: ${s.slice(0, 120)}`);
    }
  });

  it('point the views of later migrations at the local tables of earlier ones', () => {
    const statements = loadMigrations().flatMap((m) => renderMigration(m, cluster));
    const spanMetrics = statements.find((s) => s.includes('span_metrics_1m_mv ON CLUSTER'))!;
    expect(spanMetrics).toContain('TO `ssf`.metrics_1m_local');
    expect(spanMetrics).toContain('FROM `ssf`.spans_local');
    expect(spanMetrics).not.toMatch(/`ssf`\.spans\b(?!_local)/);
  });

  it('change the span rollups on every node while the local spans tables refuse inserts (0015)', () => {
    const m = loadMigrations().find((x) => x.version === 15)!;
    const statements = renderMigration(m, cluster);
    const at = (pattern: RegExp): number => statements.findIndex((s) => pattern.test(s));
    const pause = at(
      /^(?:--.*\n)*ALTER TABLE `ssf`\.spans_local ON CLUSTER `obs` ADD CONSTRAINT IF NOT EXISTS migration_0015_in_progress CHECK 0 SETTINGS alter_sync = 2$/,
    );
    const modify = at(/ALTER TABLE `ssf`\.span_metrics_1m_mv ON CLUSTER `obs` MODIFY QUERY/);
    const drop = at(/^DROP VIEW IF EXISTS `ssf`\.service_metrics_1m_mv ON CLUSTER `obs`$/);
    const resume = at(/^ALTER TABLE `ssf`\.spans_local ON CLUSTER `obs` DROP CONSTRAINT IF EXISTS migration_0015_in_progress SETTINGS alter_sync = 2$/);
    expect([pause, modify, drop, resume].every((i) => i >= 0)).toBe(true);
    expect(pause).toBeLessThan(modify);
    expect(modify).toBeLessThan(drop);
    expect(drop).toBeLessThan(resume);
    expect(statements[modify]).toContain('FROM `ssf`.spans_local');
    expect(statements[modify]).toContain("'ssf.service.duration'");
    // The Distributed table in front takes no constraint (a constraint is not a column change).
    expect(statements.some((s) => /ALTER TABLE `ssf`\.spans ON CLUSTER/.test(s))).toBe(false);
    const sharded = renderMigration(m, { ...cluster, clusterMode: 'sharded' });
    expect(sharded).toContain('DROP VIEW IF EXISTS `ssf`.service_metrics_1m_mv');
  });

  it('derive the cluster variant of 0017: the views read the Distributed tables, the index goes on the local trace_index', () => {
    const m = loadMigrations().find((x) => x.version === 17);
    if (m === undefined) throw new Error('no migration 17');
    // Each statement without the comment lines before it.
    const uncommented = (ctx: RenderContext): string[] => renderMigration(m, ctx).map((s) => s.replace(/^(\s*--[^\n]*\n)*/, ''));
    const replicated = uncommented(cluster);
    const firstLines = replicated.map((s) => s.split('\n')[0] ?? '');
    expect(firstLines).toEqual([
      'CREATE VIEW IF NOT EXISTS `ssf`.otel_traces_trace_id_ts ON CLUSTER `obs` AS',
      'ALTER TABLE `ssf`.trace_index_local ON CLUSTER `obs` ADD INDEX IF NOT EXISTS idx_trace_id_hex',
      'ALTER TABLE `ssf`.trace_index_local ON CLUSTER `obs` MATERIALIZE INDEX idx_trace_id_hex',
      'CREATE OR REPLACE VIEW `ssf`.otel_traces ON CLUSTER `obs` AS',
      'CREATE OR REPLACE VIEW `ssf`.otel_logs ON CLUSTER `obs` AS',
    ]);
    // A view on every node reads the Distributed table: every shard's traces, the tenant filter on `trace_index`.
    expect(replicated[0]).toMatch(/FROM `ssf`\.trace_index$/);
    expect(replicated[3]).toMatch(/FROM `ssf`\.spans$/);
    expect(replicated[4]).toMatch(/FROM `ssf`\.logs\nWHERE/);
    const sharded = uncommented({ ...cluster, clusterMode: 'sharded' }).map((s) => s.split('\n')[0] ?? '');
    expect(sharded).toEqual(firstLines.map((l) => l.replace(' ON CLUSTER `obs`', '')));
  });

  it('derive the sharded variant: the same tables with their own engines and no ON CLUSTER', () => {
    const sharded = loadMigrations().flatMap((m) => renderMigration(m, { ...cluster, clusterMode: 'sharded' }));
    const replicated = loadMigrations().flatMap((m) => renderMigration(m, cluster));
    expect(sharded).toHaveLength(replicated.length);
    const spansLocal = sharded.find((s) => s.includes('CREATE TABLE IF NOT EXISTS `ssf`.spans_local\n'))!;
    expect(spansLocal).toMatch(/ENGINE = MergeTree\n/);
    expect(sharded).toContain(
      'CREATE TABLE IF NOT EXISTS `ssf`.spans AS `ssf`.spans_local\nENGINE = Distributed(`obs`, `ssf`, spans_local, cityHash64(trace_id))',
    );
    for (const s of sharded) {
      expect(s).not.toContain('ON CLUSTER');
      expect(s).not.toContain('Replicated');
    }
  });
});
