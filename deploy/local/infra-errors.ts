import { defineErrors } from '../../src/errors/define-errors.js';

/** The dev launchers' catalog (deploy/local): why a local broker or ClickHouse could not start. Status 0: never an HTTP answer. */
export const InfraErrors = defineErrors('INFRA', {
  INFRA_ERR_JAVA_MISSING: { status: 0, retriable: false, text: "No `java` (11 or newer) to run the Kafka broker: install Debian's `default-jdk-headless`." },
  INFRA_ERR_MVN_MISSING: { status: 0, retriable: false, text: "No `mvn` to fetch the Kafka jars: install Debian's `maven`." },
  INFRA_ERR_KAFKA_FETCH_FAILED: {
    status: 0,
    retriable: false,
    text: 'Maven could not fetch the pinned Kafka jars (network, registry); nothing half-fetched is kept.',
  },
  INFRA_ERR_KAFKA_FORMAT_FAILED: { status: 0, retriable: false, text: '`kafka.tools.StorageTool format` failed on the data directory.' },
  INFRA_ERR_KAFKA_EXITED: {
    status: 0,
    retriable: false,
    text: 'The broker process exited before it was ready (its first errors and last log lines are in the message).',
  },
  INFRA_ERR_KAFKA_NOT_READY: { status: 0, retriable: false, text: 'The broker did not answer kafkajs before the deadline.' },
  INFRA_ERR_UNSUPPORTED_PLATFORM: { status: 0, retriable: false, text: "chDB's `libchdb.so` has no build for this platform (linux x64 and arm64, macOS)." },
  INFRA_ERR_LIBCHDB_MISSING: { status: 0, retriable: false, text: "The npm package `@chdb/lib-*` (chDB's engine) is not installed: run `npm ci`." },
  INFRA_ERR_CC_MISSING: { status: 0, retriable: false, text: "No C compiler to build the small HTTP launcher of chDB: install Debian's `gcc`." },
  INFRA_ERR_HELPER_BUILD: { status: 0, retriable: false, text: "The launcher did not compile (the compiler's output is in the message)." },
  INFRA_ERR_BAD_OPTION: { status: 0, retriable: false, text: 'An option of the launcher is malformed (a setting name, a port).' },
  INFRA_ERR_PORT_IN_USE: { status: 0, retriable: false, text: 'The requested port is taken, perhaps by a server still running.' },
  INFRA_ERR_CLICKHOUSE_EXITED: { status: 0, retriable: false, text: 'The ClickHouse process exited before answering `/ping` (log tail in the message).' },
  INFRA_ERR_CLICKHOUSE_TIMEOUT: { status: 0, retriable: false, text: '`/ping` did not answer `Ok.` before the deadline.' },
});

export type InfraErrorCode = (typeof InfraErrors.codes)[number];
