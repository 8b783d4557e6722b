import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import type { Config } from '../config/config-schema.js';
import { startClickHouseServer } from './local-engine.js';
import type { ClickHouseServer } from './local-engine.js';

export type ClickHouseConfig = Config['clickhouse'];

export interface ClickHouse {
  client: ClickHouseClient;
  /** Where the client talks to: the configured URL, or the local engine's address and data directory. */
  endpoint: string;
  database: string;
  /** Cluster name for ON CLUSTER DDL, or '' for a single server. */
  cluster: string;
  /** How the cluster's tables are kept (`clickhouse.clusterMode`); absent: replicated. */
  clusterMode?: 'replicated' | 'sharded';
  /** A client like this one (same user, TLS, database) to another node, `host:port` of its HTTP interface (server mode only). */
  forNode?: (hostPort: string) => Promise<ClickHouse>;
  close(): Promise<void>;
}

/** Settings every connection uses: 64-bit integers as JSON strings, so ids and ns timestamps stay exact. */
export const BASE_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  input_format_skip_unknown_fields: 0,
};

/** The local engine's users (their passwords are made at each start). */
const LOCAL_QUERY_USER = 'ssf_query';
const LOCAL_WRITER_USER = 'ssf_writer';

interface LocalEngine {
  path: string;
  server: ClickHouseServer;
  writerPassword: string;
  queryPassword: string;
  users: number;
}

// One engine per data path: every client of this process shares it.
let local: { path: string; engine: Promise<LocalEngine> } | undefined;

/**
 * The one way the pipeline talks to ClickHouse: HTTP, through
 * @clickhouse/client. A configured URL is a server or a cluster; no URL
 * starts the local engine: chDB's ClickHouse served over HTTP on 127.0.0.1
 * by a child process of this one (local-engine.ts), data under
 * `clickhouse.dataPath`. Each request is then its own HTTP request on its
 * own query context: nothing a failed query leaves behind can reach another
 * request (docs/security.md), statements run concurrently, and the server
 * enforces time limits and cancels a query whose client went away.
 *
 * `readonlyUser` asks for the query API's client: the read-only user when
 * there is one (always on the local engine), else readonly=2 on every request.
 */
export async function createClickHouse(config: ClickHouseConfig, options: { readonlyUser?: boolean } = {}): Promise<ClickHouse> {
  const reader = options.readonlyUser === true;
  if (config.url) {
    const useQueryUser = reader && config.queryUser !== '';
    const client = buildClient(
      config,
      config.url,
      reader,
      useQueryUser ? config.queryUser : config.user,
      useQueryUser ? config.queryPassword : config.password,
      !useQueryUser,
    );
    return {
      client,
      endpoint: config.url,
      database: config.database,
      cluster: config.cluster,
      clusterMode: config.clusterMode,
      forNode: (hostPort) => createClickHouse({ ...config, url: `${new URL(config.url).protocol}//${hostPort}` }, options),
      close: () => client.close(),
    };
  }

  const engine = await openLocalEngine(config);
  engine.users++;
  const client = buildClient(
    config,
    engine.server.url,
    reader,
    reader ? LOCAL_QUERY_USER : LOCAL_WRITER_USER,
    reader ? engine.queryPassword : engine.writerPassword,
    false,
  );
  let closed = false;
  return {
    client,
    endpoint: `${engine.server.url} (local engine, data in ${engine.path})`,
    database: config.database,
    cluster: '',
    close: async () => {
      if (closed) return;
      closed = true;
      await client.close();
      if (--engine.users === 0) {
        local = undefined;
        await engine.server.stop();
      }
    },
  };
}

function buildClient(config: ClickHouseConfig, url: string, reader: boolean, username: string, password: string, readonly2: boolean): ClickHouseClient {
  const tls = config.tlsCaFile
    ? {
        ca_cert: readFileSync(config.tlsCaFile),
        ...(config.tlsCertFile && config.tlsKeyFile ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) } : {}),
      }
    : undefined;
  return createClient({
    url,
    username,
    password,
    request_timeout: config.requestTimeoutMs,
    max_open_connections: config.maxOpenConnections,
    // Below the server's keep_alive_timeout, so a reused socket is never one the server is closing.
    keep_alive: { enabled: true, idle_socket_ttl: config.idleSocketTtlMs },
    // The query API's client: unqualified table names are the pipeline's, and
    // without a read-only user of its own every request is readonly=2 (reads
    // and per-query limits only; readonly=1 would refuse the limits).
    // Its errors are users' mistakes, answered with a code and counted; the
    // client's own ERROR log of each would only be noise.
    ...(reader ? { database: config.database, log: { level: 127 as const } } : {}),
    clickhouse_settings: reader && readonly2 ? { ...BASE_SETTINGS, readonly: '2' } : BASE_SETTINGS,
    ...(tls ? { tls } : {}),
  });
}

async function openLocalEngine(config: ClickHouseConfig): Promise<LocalEngine> {
  const path = resolve(config.dataPath);
  if (local && local.path !== path) {
    throw new Error(`the local ClickHouse engine of this process already runs on ${local.path}; one process runs one (asked for ${path})`);
  }
  if (!local) {
    const opening = { path, engine: startLocalEngine(path, config.database) };
    local = opening;
    opening.engine.catch(() => {
      if (local === opening) local = undefined;
    });
  }
  return local.engine;
}

async function startLocalEngine(path: string, database: string): Promise<LocalEngine> {
  mkdirSync(path, { recursive: true });
  const writerPassword = randomBytes(24).toString('hex');
  const queryPassword = randomBytes(24).toString('hex');
  const usersFile = join(path, 'ssf-local-users.xml');
  writeFileSync(usersFile, localUsersXml(database, writerPassword, queryPassword), { mode: 0o600 });
  const server = await startClickHouseServer({ dataDir: path, usersFile });
  return { path, server, writerPassword, queryPassword, users: 0 };
}

/**
 * The local engine's users, as deploy/clickhouse/ssf-users.xml defines them
 * for a server, with passwords made at each start (so no other local process
 * can use the port): `ssf_writer` writes and migrates; `ssf_query` (readonly=2,
 * SELECT on the pipeline's database only) is the query API's.
 */
function localUsersXml(database: string, writerPassword: string, queryPassword: string): string {
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  return `<clickhouse>
  <profiles>
    <default/>
    <ssf_query>
      <readonly>2</readonly>
      <max_execution_time>30</max_execution_time>
      <cancel_http_readonly_queries_on_client_close>1</cancel_http_readonly_queries_on_client_close>
      <constraints>
        <max_execution_time><max>300</max></max_execution_time>
        <allow_introspection_functions><const/></allow_introspection_functions>
        <allow_ddl><const/></allow_ddl>
      </constraints>
    </ssf_query>
  </profiles>
  <users>
    <default>
      <!-- The engine's own start-up statement runs as default, in the process;
           the HTTP listener is on 127.0.0.1, so no connection can come from ::1. -->
      <password></password>
      <networks><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <${LOCAL_WRITER_USER}>
      <password_sha256_hex>${sha(writerPassword)}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </${LOCAL_WRITER_USER}>
    <${LOCAL_QUERY_USER}>
      <password_sha256_hex>${sha(queryPassword)}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>ssf_query</profile>
      <quota>default</quota>
      <grants>
        <query>GRANT SELECT ON ${database}.*</query>
        <query>GRANT CREATE TEMPORARY TABLE ON *.*</query>
      </grants>
    </${LOCAL_QUERY_USER}>
  </users>
  <quotas>
    <default/>
  </quotas>
</clickhouse>
`;
}
