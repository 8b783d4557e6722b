import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { JobInputError } from './job-input-error.js';

/** Where state files go unless `--state` names one: one file per job and set of arguments. */
export const DEFAULT_STATE_DIR = join('.cache', 'analytics');

/** What a job's state file holds: the arguments it belongs to, and the job's own progress. */
interface StateDocument<T> {
  job: string;
  identity: Record<string, unknown>;
  updatedAt: string;
  state: T;
}

/**
 * A job's resumable progress in a small JSON file. A rerun with the same
 * arguments finds it and continues where the last run stopped; a finished
 * job's file says so, which makes a second run a no-op. Each save replaces
 * the file whole (write a temporary file, fsync, rename), so a crash leaves
 * either the old or the new state, never half of one.
 */
export class JobState<T> {
  private constructor(
    readonly path: string,
    private readonly document: StateDocument<T>,
    readonly resumed: boolean,
  ) {}

  /**
   * Opens the state of `job` for these arguments (`identity`: everything that
   * changes what the job does). `path` given: that file, which must belong to
   * the same arguments; otherwise `.cache/analytics/<job>-<hash>.json`.
   * `restart` starts again from `fresh()`.
   */
  static open<T>(job: string, identity: Record<string, unknown>, fresh: () => T, options: { path?: string | undefined; restart?: boolean } = {}): JobState<T> {
    const key = stableJson(identity);
    const path = resolve(options.path ?? join(DEFAULT_STATE_DIR, `${job}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.json`));
    if (!options.restart && existsSync(path)) {
      let found: StateDocument<T>;
      try {
        found = JSON.parse(readFileSync(path, 'utf8')) as StateDocument<T>;
      } catch (err) {
        throw new JobInputError(`the state file ${path} is not readable JSON (${(err as Error).message}); remove it or pass --restart`);
      }
      if (found.job !== job || stableJson(found.identity) !== key) {
        throw new JobInputError(
          `the state file ${path} belongs to another run (${found.job} ${stableJson(found.identity)}); use another --state file or pass --restart`,
        );
      }
      return new JobState(path, found, true);
    }
    return new JobState(path, { job, identity, updatedAt: new Date().toISOString(), state: fresh() }, false);
  }

  get state(): T {
    return this.document.state;
  }

  /** Writes the state (after each finished piece of work). */
  save(): void {
    this.document.updatedAt = new Date().toISOString();
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${JSON.stringify(this.document, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }

  /** Forgets the state (not used by the jobs themselves: a finished state is what makes a rerun a no-op). */
  remove(): void {
    rmSync(this.path, { force: true });
  }
}

/** JSON with object keys sorted, so equal arguments always give the same text (and file name). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}
