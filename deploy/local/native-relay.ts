/**
 * A TCP relay for one direction of the local cluster's native traffic: node
 * A's connections to node B's native port (A's `remote_servers` lists the
 * relay's port for B). It passes bytes both ways and passes every close and
 * reset on, except in one case.
 *
 * A chDB node aborts (SIGABRT, "Terminate called for uncaught exception")
 * when a native connection it is reading from is reset or cut off in the
 * middle of a packet. A peer killed -9 in the middle of an insert does exactly
 * that, so one killed node took the three others down with it. A real
 * ClickHouse server drops the half-received insert, ends that connection and
 * carries on. So when A has died, the relay does not pass A's end on to B:
 * it keeps B's side of the connection open and discards what B sends. B's
 * handler waits for the rest of a block that never comes, and the half insert
 * is never committed, as on a real server. A's Distributed queue sends the
 * whole file again once A is back. The held connections end when B
 * closes them (its receive timeout) or when the relay closes.
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface NativeRelay {
  readonly port: number;
  /** Connections held open for a source that died. */
  readonly held: number;
  close(): Promise<void>;
}

/** How long after A's end the relay waits to learn whether A died (the launcher sees the exit within milliseconds). */
const DEATH_NOTICE_MS = 500;

/**
 * Listens on 127.0.0.1:`port` (0: a free one) and relays to
 * 127.0.0.1:`targetPort`. `sourceDown()` says whether node A, the only
 * client of this relay, has died.
 */
export async function startNativeRelay(targetPort: number, sourceDown: () => boolean, port = 0): Promise<NativeRelay> {
  const open = new Set<Socket>();
  const held = new Set<Socket>();
  const hold = (upstream: Socket): void => {
    held.add(upstream);
    upstream.on('close', () => held.delete(upstream));
  };
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    open.add(client);
    open.add(upstream);
    client.on('close', () => open.delete(client));
    upstream.on('close', () => open.delete(upstream));
    client.pipe(upstream, { end: false });
    upstream.pipe(client);
    upstream.on('error', () => client.destroy());
    // A's side ended: a close, a reset, or A's death. Passed on once it is known A lives.
    let ended = false;
    const clientEnded = (reset: boolean): void => {
      if (ended) return;
      ended = true;
      setTimeout(() => {
        if (upstream.destroyed) return;
        if (sourceDown()) {
          client.unpipe(upstream);
          upstream.unpipe(client);
          upstream.on('data', () => {});
          hold(upstream);
        } else if (reset) {
          upstream.resetAndDestroy();
        } else {
          upstream.end();
        }
      }, DEATH_NOTICE_MS).unref();
    };
    client.on('end', () => clientEnded(false));
    client.on('error', () => clientEnded(true));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('native relay: no TCP address');
  return {
    port: address.port,
    get held() {
      return held.size;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
