import type { ChildProcess } from 'node:child_process';

/** How a child process ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started child process, killed if this process exits first. */
export interface WatchedChild {
  pid: number;
  /** Settles when the child exits. */
  exited: Promise<ChildExit>;
  /** How it ended, once it has (undefined while it runs). */
  exit(): ChildExit | undefined;
  /** SIGTERM, SIGKILL after `timeoutMs`; resolves once it has exited (at once if it already had). */
  stop(timeoutMs: number): Promise<void>;
}

/** One `exit` listener for every watched child (a cluster launcher watches a dozen). */
const livingChildren = new Set<() => void>();
function killLivingChildren(): void {
  for (const kill of livingChildren) kill();
}
function forget(kill: () => void): void {
  livingChildren.delete(kill);
  if (livingChildren.size === 0) process.off('exit', killLivingChildren);
}

/**
 * Waits until a just-spawned child has started and tracks its end. Until it
 * exits, `signalOnParentExit` is sent to it when this process exits (a
 * server launched for a test or a dev launcher must not outlive it).
 * Rejects with the spawn error if it did not start (no such binary): the
 * caller wraps it in its own coded error.
 */
export async function watchChild(child: ChildProcess, signalOnParentExit: NodeJS.Signals): Promise<WatchedChild> {
  const killOnExit = (): void => {
    child.kill(signalOnParentExit);
  };
  if (livingChildren.size === 0) process.on('exit', killLivingChildren);
  livingChildren.add(killOnExit);
  let exit: ChildExit | undefined;
  const exited = new Promise<ChildExit>((settle) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      forget(killOnExit);
      settle(exit);
    });
  });
  const spawnError = await new Promise<Error | undefined>((settle) => {
    child.once('spawn', () => settle(undefined));
    child.once('error', settle);
  });
  if (spawnError !== undefined || child.pid === undefined) {
    forget(killOnExit);
    throw spawnError ?? new Error('the child process has no pid');
  }
  return {
    pid: child.pid,
    exited,
    exit: () => exit,
    async stop(timeoutMs) {
      if (exit !== undefined) return;
      child.kill('SIGTERM');
      const escalate = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(escalate);
    },
  };
}
