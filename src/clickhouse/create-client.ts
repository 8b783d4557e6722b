import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import type { Config } from '../config/config-schema.js';

export type ClickHouseConfig = Config['clickhouse'];
type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

export interface ClickHouse {
  client: ClickHouseClient;
  /** `server` (HTTP to a ClickHouse server or cluster) or `embedded` (chDB in this process). */
  mode: 'server' | 'embedded';
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

// chDB allows one engine (one data path) per process: share it.
let embedded: { path: string; client: ClickHouseClient; users: number } | undefined;

/**
 * The one way the pipeline talks to ClickHouse: a configured URL gives an
 * HTTP client (server or cluster), no URL gives the embedded engine through
 * `chdb/connection`. Everything above uses the same @clickhouse/client API.
 */
export async function createClickHouse(config: ClickHouseConfig, options: { readonlyUser?: boolean } = {}): Promise<ClickHouse> {
  if (config.url) {
    const reader = options.readonlyUser === true;
    const useQueryUser = reader && config.queryUser !== '';
    const tls = config.tlsCaFile
      ? {
          ca_cert: readFileSync(config.tlsCaFile),
          ...(config.tlsCertFile && config.tlsKeyFile ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) } : {}),
        }
      : undefined;
    const client = createClient({
      url: config.url,
      username: useQueryUser ? config.queryUser : config.user,
      password: useQueryUser ? config.queryPassword : config.password,
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
      clickhouse_settings: reader && !useQueryUser ? { ...BASE_SETTINGS, readonly: '2' } : BASE_SETTINGS,
      ...(tls ? { tls } : {}),
    });
    return {
      client,
      mode: 'server',
      database: config.database,
      cluster: config.cluster,
      clusterMode: config.clusterMode,
      forNode: (hostPort) => createClickHouse({ ...config, url: `${new URL(config.url).protocol}//${hostPort}` }, options),
      close: () => client.close(),
    };
  }

  const path = resolve(config.dataPath);
  if (embedded && embedded.path !== path) {
    throw new Error(`the embedded ClickHouse is already open at ${embedded.path}; one process can open one data path (asked for ${path})`);
  }
  if (!embedded) {
    mkdirSync(path, { recursive: true });
    const { createChdbConnection } = await import('chdb/connection');
    // chdb types its Connection against @clickhouse/client-common, which this
    // client bundles a copy of; the two only differ under exactOptionalPropertyTypes.
    const connection = createChdbConnection({ path }) as unknown as ClientConnection;
    const client = createClient({ connection, clickhouse_settings: BASE_SETTINGS });
    // The one session's current database: unqualified names in the query API's
    // SQL are the pipeline's tables (the pipeline's own SQL always qualifies).
    if (config.database !== 'default') {
      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` });
      await client.command({ query: `USE ${config.database}` });
    }
    embedded = { path, client, users: 0 };
  }
  const shared = embedded;
  shared.users++;
  let closed = false;
  return {
    client: shared.client,
    mode: 'embedded',
    database: config.database,
    cluster: '',
    close: async () => {
      if (closed) return;
      closed = true;
      if (--shared.users === 0) {
        embedded = undefined;
        await shared.client.close();
      }
    },
  };
}
