/**
 * A real ClickHouse HTTP endpoint without a ClickHouse install: the engine in
 * `libchdb.so` (npm `chdb`) served by the native helper
 * `deploy/clickhouse/chdb-http-server.c`, compiled on first use with the
 * machine's `cc`. Node cannot call `chdb_query_cmdline` itself (an FFI call
 * trips ClickHouse's stack check), hence the separate process.
 *
 * `ssf serve` runs its engine this way (create-client.ts, no `clickhouse.url`),
 * and so do the development launcher (deploy/local/clickhouse-server.ts) and
 * the integration tests: one way to talk to ClickHouse, over HTTP.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { freePort } from '../net/free-port.js';
import { watchChild } from '../process/watch-child.js';
import type { ChildExit, WatchedChild } from '../process/watch-child.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/**
 * Stable codes of {@link ClickHouseServerError}; match `err.code`.
 * - `INFRA_ERR_UNSUPPORTED_PLATFORM`: libchdb ships for Linux x64/arm64 (glibc) only here.
 * - `INFRA_ERR_LIBCHDB_MISSING`: the `chdb` package or its native optional dependency is not installed.
 * - `INFRA_ERR_CC_MISSING`: no C compiler to build the helper (Debian: `apt-get install gcc`).
 * - `INFRA_ERR_HELPER_BUILD`: the helper source is missing or does not compile.
 * - `INFRA_ERR_BAD_OPTION`: an option of {@link startClickHouseServer} is invalid.
 * - `INFRA_ERR_PORT_IN_USE`: the requested port is taken (maybe by a server still running).
 * - `INFRA_ERR_CLICKHOUSE_EXITED`: the server process exited before answering `/ping` (see the log tail in the message).
 * - `INFRA_ERR_CLICKHOUSE_TIMEOUT`: `/ping` did not answer `Ok.` before `readyTimeoutMs`.
 */
export type ClickHouseServerErrorCode =
  | 'INFRA_ERR_UNSUPPORTED_PLATFORM'
  | 'INFRA_ERR_LIBCHDB_MISSING'
  | 'INFRA_ERR_CC_MISSING'
  | 'INFRA_ERR_HELPER_BUILD'
  | 'INFRA_ERR_BAD_OPTION'
  | 'INFRA_ERR_PORT_IN_USE'
  | 'INFRA_ERR_CLICKHOUSE_EXITED'
  | 'INFRA_ERR_CLICKHOUSE_TIMEOUT';

export class ClickHouseServerError extends Error {
  override readonly name = 'ClickHouseServerError';
  readonly code: ClickHouseServerErrorCode;

  constructor(code: ClickHouseServerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface StartClickHouseServerOptions {
  /** TCP port on 127.0.0.1. Default: a free port. */
  port?: number;
  /** Data directory, kept after stop(). Reuse it to restart with the same data. Default: a fresh temp directory. */
  dataDir?: string;
  /** Where the helper binary is built. Default: `<repo>/.cache/clickhouse`. */
  cacheDir?: string;
  /** Server settings (config keys), passed as `--key=value`, e.g. `{ keep_alive_timeout: 10, max_server_memory_usage: 2e9 }`. */
  settings?: Record<string, string | number>;
  /** A ClickHouse main config file (clickhouse-local `--config-file`). Exclusive with `usersFile`. */
  configFile?: string;
  /** A users.xml (profiles, users, grants); a config pointing at it is written into the data dir. Exclusive with `configFile`. */
  usersFile?: string;
  /** Server log level written to the log file. Default: only fatal errors are logged. */
  logLevel?: 'trace' | 'debug' | 'information' | 'warning' | 'error';
  /** Receives the launcher's own lifecycle lines (not the server log). */
  log?: (line: string) => void;
  /** Deadline for `/ping` to answer `Ok.`. Default 30 000. */
  readyTimeoutMs?: number;
  /** stop() sends SIGKILL after this. Default 10 000. */
  stopTimeoutMs?: number;
  /** Also serve the native TCP port (`tcp_port` of `configFile`), as a node of a cluster does. Default false. */
  listenTcp?: boolean;
}

export interface ClickHouseServer {
  /** `http://127.0.0.1:<port>`, for `@clickhouse/client`'s `url`. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The helper's stdout and stderr, appended across restarts. */
  readonly logFile: string;
  readonly pid: number;
  /** Settles when the server process exits, for whatever reason. */
  readonly exited: Promise<ServerExit>;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the process is gone. Idempotent. Keeps the data dir unless asked. */
  stop(options?: { removeDataDir?: boolean }): Promise<void>;
  /** Sends a signal (default SIGKILL, a crash) without waiting; await `exited` or stop() after. */
  kill(signal?: NodeJS.Signals): void;
}

export type ServerExit = ChildExit;

const HELPER_SOURCE = join('deploy', 'clickhouse', 'chdb-http-server.c');
const HELPER_NAME = 'chdb-http-server';
const LOG_NAME = 'chdb-http-server.log';
const SETTING_KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function repoRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, HELPER_SOURCE))) return dir;
    if (dirname(dir) === dir) {
      throw new ClickHouseServerError('INFRA_ERR_HELPER_BUILD', `${HELPER_SOURCE} not found in any parent of ${start}`);
    }
  }
}

function libchdbPath(): string {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
    throw new ClickHouseServerError(
      'INFRA_ERR_UNSUPPORTED_PLATFORM',
      `the ClickHouse launcher needs Linux x64 or arm64 (glibc); this is ${process.platform}-${process.arch}`,
    );
  }
  const pkg = `@chdb/lib-linux-${process.arch}-gnu`;
  const require = createRequire(import.meta.url);
  let manifest: string | undefined;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch {
    try {
      // Not hoisted: look beside the `chdb` package that depends on it.
      manifest = createRequire(require.resolve('chdb/package.json')).resolve(`${pkg}/package.json`);
    } catch {
      manifest = undefined;
    }
  }
  const lib = manifest === undefined ? undefined : join(dirname(manifest), 'libchdb.so');
  if (lib === undefined || !existsSync(lib)) {
    throw new ClickHouseServerError(
      'INFRA_ERR_LIBCHDB_MISSING',
      `libchdb.so not found: run \`npm install\` (the \`chdb\` package pulls ${pkg}; not with --omit=optional)`,
    );
  }
  return lib;
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds the helper into `cacheDir` (default `<repo>/.cache/clickhouse`) when it is
 * missing or older than its source; returns the binary's path. Safe to call concurrently.
 */
export async function ensureChdbHelper(options: { cacheDir?: string } = {}): Promise<string> {
  const root = repoRoot();
  const cacheDir = resolve(options.cacheDir ?? join(root, '.cache', 'clickhouse'));
  let build = builds.get(cacheDir);
  if (build === undefined) {
    build = buildCProgram(join(root, HELPER_SOURCE), join(cacheDir, HELPER_NAME), ['-ldl']);
    builds.set(cacheDir, build);
    const forget = (): void => {
      builds.delete(cacheDir);
    };
    void build.then(forget, forget);
  }
  return build;
}

/**
 * Compiles one C file into `binary` with the machine's `cc` (or `$CC`, at
 * -O2) when the binary is missing or older than its source; resolves with
 * its path. It is built beside, then renamed: another process may be
 * running or building it. Throws INFRA_ERR_CC_MISSING or
 * INFRA_ERR_HELPER_BUILD. Used for the chDB launcher and the bench's UDP sender.
 */
export async function buildCProgram(source: string, binary: string, libs: readonly string[] = []): Promise<string> {
  const [sourceStat, binaryStat] = await Promise.all([stat(source), stat(binary).catch(() => undefined)]);
  if (binaryStat !== undefined && binaryStat.mtimeMs >= sourceStat.mtimeMs) return binary;

  await mkdir(dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'cc';
  const child = spawn(cc, ['-O2', '-Wall', '-o', partial, source, ...libs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) {
      throw new ClickHouseServerError('INFRA_ERR_HELPER_BUILD', `\`${cc}\` failed to build ${source}:\n${stderr}`);
    }
  } catch (err) {
    if (err instanceof ClickHouseServerError) throw err;
    if (isErrno(err, 'ENOENT')) {
      throw new ClickHouseServerError(
        'INFRA_ERR_CC_MISSING',
        `no C compiler \`${cc}\` to build ${source}: install one (Debian: \`apt-get install gcc\`) or set CC`,
        { cause: err },
      );
    }
    throw new ClickHouseServerError('INFRA_ERR_HELPER_BUILD', `cannot run \`${cc}\``, { cause: err });
  }
  await rename(partial, binary);
  return binary;
}

/**
 * Starts a ClickHouse HTTP server on 127.0.0.1 and resolves once `/ping` answers `Ok.`.
 * Stop and start again with the same `port` and `dataDir` to simulate an outage:
 * data written before the stop is there after. The server dies with this process.
 */
export async function startClickHouseServer(options: StartClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  const log = options.log ?? ((): void => {});
  for (const key of Object.keys(options.settings ?? {})) {
    if (!SETTING_KEY.test(key)) throw new ClickHouseServerError('INFRA_ERR_BAD_OPTION', `invalid server setting name: ${key}`);
  }
  if (options.configFile !== undefined && options.usersFile !== undefined) {
    throw new ClickHouseServerError('INFRA_ERR_BAD_OPTION', 'give configFile or usersFile, not both');
  }
  const lib = libchdbPath();
  const helper = await ensureChdbHelper(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir });
  const dataDir = resolve(options.dataDir ?? (await mkdtemp(join(tmpdir(), 'chdb-http-'))));
  // The working directory matters: clickhouse-local's `default` database overlays
  // its files (a file named like a table shadows it) and a config.xml there is read.
  const workDir = join(dataDir, 'user_files');
  await mkdir(workDir, { recursive: true });

  const localOptions: string[] = [];
  if (options.configFile !== undefined) localOptions.push(`--config-file=${resolve(options.configFile)}`);
  if (options.usersFile !== undefined) localOptions.push(`--config-file=${await writeUsersConfig(dataDir, options.usersFile)}`);
  const serverSettings = Object.entries(options.settings ?? {}).map(([key, value]) => `--${key}=${value}`);
  if (options.logLevel !== undefined) {
    localOptions.push(`--log-level=${options.logLevel}`);
    serverSettings.push('--logger.console=1');
  }

  // A free port can be taken between probing and listening: retry on a new one.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    if (options.port !== undefined && !(await isPortFree(port))) {
      throw new ClickHouseServerError('INFRA_ERR_PORT_IN_USE', `port ${port} on 127.0.0.1 is in use`);
    }
    try {
      return await launch({ helper, lib, dataDir, workDir, port, localOptions, serverSettings, log, options });
    } catch (err) {
      const raced = err instanceof ClickHouseServerError && err.code === 'INFRA_ERR_CLICKHOUSE_EXITED' && /Address already in use/.test(err.message);
      if (!raced || options.port !== undefined || attempt >= 3) throw err;
      log(`port ${port} was taken meanwhile, retrying`);
    }
  }
}

interface LaunchPlan {
  helper: string;
  lib: string;
  dataDir: string;
  workDir: string;
  port: number;
  localOptions: string[];
  serverSettings: string[];
  log: (line: string) => void;
  options: StartClickHouseServerOptions;
}

async function launch(plan: LaunchPlan): Promise<ClickHouseServer> {
  const { dataDir, port, log, options } = plan;
  const logFile = join(dataDir, LOG_NAME);
  const fd = openSync(logFile, 'a');
  const logOffset = fstatSync(fd).size;
  const startedAt = performance.now();
  const child = spawn(
    plan.helper,
    [plan.lib, dataDir, String(port), ...plan.localOptions, '--', ...plan.serverSettings],
    // The helper exits by itself when this process dies (PR_SET_PDEATHSIG), checked against this pid.
    // Own process group: a terminal's Ctrl-C reaches the launcher, which then stops the server.
    {
      cwd: plan.workDir,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, CHDB_HTTP_PARENT_PID: String(process.pid), ...(options.listenTcp === true ? { CHDB_LISTEN_TCP: '1' } : {}) },
    },
  );
  closeSync(fd);

  let watched: WatchedChild;
  try {
    watched = await watchChild(child, 'SIGTERM');
  } catch (spawnError) {
    throw new ClickHouseServerError('INFRA_ERR_CLICKHOUSE_EXITED', `cannot start ${plan.helper}`, { cause: spawnError });
  }
  child.on('error', (err) => log(`ClickHouse process error: ${err.message}`));
  const { exited, pid } = watched;
  let exitExpected = false;
  const url = `http://127.0.0.1:${port}`;
  log(`ClickHouse starting: pid ${pid}, ${url}, data ${dataDir}, log ${logFile}`);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    const exit = watched.exit();
    if (exit !== undefined) {
      throw new ClickHouseServerError(
        'INFRA_ERR_CLICKHOUSE_EXITED',
        `ClickHouse exited before it was ready (code ${exit.code}, signal ${exit.signal}); ${logFile}:\n${await logTail(logFile, logOffset)}`,
      );
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new ClickHouseServerError(
        'INFRA_ERR_CLICKHOUSE_TIMEOUT',
        `ClickHouse did not answer ${url}/ping within ${options.readyTimeoutMs ?? 30_000} ms; ${logFile}:\n${await logTail(logFile, logOffset)}`,
      );
    }
    await Promise.race([sleep(50), exited]);
  }
  log(`ClickHouse ready in ${Math.round(performance.now() - startedAt)} ms: ${url}`);

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    exitExpected = true;
    await watched.stop(options.stopTimeoutMs ?? 10_000);
    log(`ClickHouse stopped: pid ${pid}, ${url}`);
  };
  void exited.then((how) => {
    if (!exitExpected) log(`ClickHouse exited unexpectedly (code ${how.code}, signal ${how.signal}); see ${logFile}`);
  });

  return {
    url,
    port,
    dataDir,
    logFile,
    pid,
    exited,
    stop: async (stopOptions = {}) => {
      stopping ??= stop();
      await stopping;
      if (stopOptions.removeDataDir === true) await rm(dataDir, { recursive: true, force: true });
    },
    kill: (signal = 'SIGKILL') => {
      exitExpected = true;
      if (watched.exit() === undefined) child.kill(signal);
    },
  };
}

/** clickhouse-local reads users only through a main config naming a users.xml. */
async function writeUsersConfig(dataDir: string, usersFile: string): Promise<string> {
  const file = join(dataDir, 'chdb-http-server.config.xml');
  const escaped = resolve(usersFile).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  await writeFile(file, `<clickhouse>\n  <user_directories>\n    <users_xml><path>${escaped}</path></users_xml>\n  </user_directories>\n</clickhouse>\n`);
  return file;
}

function ping(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const request = get({ host: '127.0.0.1', port, path: '/ping', agent: false, timeout: 1_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => settle(response.statusCode === 200 && body.trim() === 'Ok.'));
      response.on('error', () => settle(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => settle(false));
  });
}

async function isPortFree(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch {
    return false;
  }
  server.close();
  await once(server, 'close');
  return true;
}

async function logTail(file: string, from: number, max = 4_000): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(from, size - max);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}
