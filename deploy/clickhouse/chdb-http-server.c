/*
 * Serves ClickHouse's HTTP interface from libchdb.so (npm package `chdb`).
 *
 *   chdb-http-server LIBCHDB_SO DATA_DIR PORT [LOCAL_OPTION...] [-- SERVER_SETTING...]
 *
 * LOCAL_OPTIONs go to clickhouse-local (e.g. --config-file=cfg.xml, whose
 * user_directories.users_xml.path names a users.xml); SERVER_SETTINGs are
 * server config keys (e.g. --keep_alive_timeout=10). Built and spawned by
 * deploy/local/clickhouse-server.ts. chdb_query_cmdline runs on this process's
 * own stack: calling it through a Node FFI trips ClickHouse's stack check.
 * With CHDB_LISTEN_TCP set in the environment it also listens on the native
 * TCP port (`tcp_port` of the config file), for a node of a cluster.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

typedef void *(*cmdline_fn)(int, char **);
typedef const char *(*error_fn)(void *);

/* Listen, then run a query that never ends: the server lives as long as it. */
static const char *QUERY = "--query=SYSTEM START LISTEN HTTP; "
  "SELECT sum(sleepEachRow(1)) FROM system.numbers SETTINGS max_block_size=1, "
  "function_sleep_max_microseconds_per_block=0, max_execution_time=0";
/* The same, also serving the native TCP port: what Distributed tables of other nodes connect to. */
static const char *QUERY_TCP = "--query=SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; "
  "SELECT sum(sleepEachRow(1)) FROM system.numbers SETTINGS max_block_size=1, "
  "function_sleep_max_microseconds_per_block=0, max_execution_time=0";

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s LIBCHDB_SO DATA_DIR PORT [OPTION...] [-- SETTING...]\n", argv[0]); return 2; }
  /* Never outlive the launcher, even if it is SIGKILLed. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  const char *parent = getenv("CHDB_HTTP_PARENT_PID");
  if (parent && atoi(parent) != getppid()) { fprintf(stderr, "launcher already gone\n"); return 3; }

  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) { fprintf(stderr, "dlopen failed: %s\n", dlerror()); return 2; }
  cmdline_fn query_cmdline = (cmdline_fn)dlsym(lib, "chdb_query_cmdline");
  error_fn result_error = (error_fn)dlsym(lib, "chdb_result_error");
  if (!query_cmdline || !result_error) { fprintf(stderr, "libchdb.so lacks chdb_query_cmdline\n"); return 2; }

  char **args = calloc((size_t)argc + 10, sizeof(char *));
  size_t path_len = strlen(argv[2]) + 8, port_len = strlen(argv[3]) + 13;
  char *path = malloc(path_len), *port = malloc(port_len);
  if (!args || !path || !port) return 2;
  snprintf(path, path_len, "--path=%s", argv[2]);
  snprintf(port, port_len, "--http_port=%s", argv[3]);
  int n = 0, i = 4;
  args[n++] = "clickhouse"; args[n++] = path; args[n++] = "--multiquery";
  args[n++] = (char *)(getenv("CHDB_LISTEN_TCP") ? QUERY_TCP : QUERY); args[n++] = "--output-format=TSV";
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) args[n++] = argv[i];
  args[n++] = "--"; args[n++] = port; args[n++] = "--listen_host=127.0.0.1";
  for (i++; i < argc; i++) args[n++] = argv[i]; /* later keys win: --listen_host may be overridden */

  void *result = query_cmdline(n, args);
  /* Returning at all is a failure (port in use, data dir locked, bad option...). */
  const char *error = result ? result_error(result) : NULL;
  fprintf(stderr, "chdb-http-server: server stopped%s%s\n", error ? ": " : "", error ? error : "");
  return 1;
}
