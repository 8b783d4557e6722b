import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { CodecError } from '../../src/codec/errors.js';
import { FrameReader } from '../../src/codec/framing.js';
import { nowNs } from '../../src/emitter/clock.js';
import type { SpanSink } from '../sink/span-sink.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { SpanIntake } from './span-intake.js';
import { packOf } from './span-intake.js';
import type { TenantRateLimit } from './tenant-rate-limit.js';
import { splitHostPort } from '../../src/http/listen-address.js';
import { dropReason } from '../sink/sink-errors.js';
import { capConnectionsPerSource } from '../../src/net/source-connection-cap.js';
import type { SourceConnectionLimit } from '../../src/net/source-connection-cap.js';

/** The deadline of the frame in progress on one connection. */
interface FrameTimer {
  stop(): void;
  /** Starts it again if a frame is in progress. */
  resume(): void;
}

/**
 * Veneur's framed SSF stream on a UNIX socket or TCP port. Unlike UDP, a
 * stream can push back: while a chunk's spans are being published the
 * connection is paused, so a slow pipeline slows the sender (TCP flow
 * control) instead of dropping. A bad frame payload is refused alone; a
 * framing error (wrong version byte, oversize length) closes the connection,
 * as the format has no way to resynchronise.
 */
export class StreamListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: { path: string } | { address: string },
    private readonly tenant: string,
    private readonly intake: SpanIntake,
    private readonly sink: SpanSink,
    private readonly metrics: GatewayMetrics,
    /** A connection silent for this long is closed (a slowloris holds no socket forever). */
    private readonly idleMs: number,
    /** A frame must arrive whole within this long of its first byte (a trickle holds no buffer forever). */
    private readonly frameMs: number,
    private readonly maxConnections: number,
    /** TCP only: connections per source address (a UNIX socket's peers have none). */
    private readonly perSource: SourceConnectionLimit,
    /** The tenant's ingest rate limit: over it, the connection is paused until the tenant may send again. */
    private readonly limits?: TenantRateLimit,
  ) {}

  private get protocol(): string {
    return 'path' in this.target ? 'unix' : 'tcp';
  }

  async listen(): Promise<string> {
    const server = createServer((socket) => this.onConnection(socket));
    server.maxConnections = this.maxConnections;
    server.on('drop', () => this.metrics.refused(this.protocol, 'GW_ERR_STREAM_TOO_MANY_CONNECTIONS', 1));
    if ('address' in this.target) capConnectionsPerSource(server, this.perSource, () => this.metrics.refused('tcp', 'GW_ERR_SOURCE_TOO_MANY_CONNECTIONS', 1));
    this.server = server;
    if ('path' in this.target) {
      const path = this.target.path;
      await removeStaleSocket(path);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      return path;
    }
    const { host, port } = splitHostPort(this.target.address);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? `${host}:${addr.port}` : this.target.address;
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    const reader = new FrameReader();
    const protocol = this.protocol;
    socket.setTimeout(this.idleMs, () => {
      this.metrics.refused(protocol, 'GW_ERR_STREAM_IDLE', 1);
      socket.destroy();
    });
    // The deadline of the frame in progress: armed when a frame begins, not reset by its
    // bytes (the idle timeout is), and stopped while the connection is paused by us.
    let frameTimer: NodeJS.Timeout | undefined;
    const stopFrameTimer = (): void => {
      clearTimeout(frameTimer);
      frameTimer = undefined;
    };
    const startFrameTimer = (): void => {
      frameTimer = setTimeout(() => {
        this.metrics.refused(protocol, 'GW_ERR_STREAM_FRAME_TIMEOUT', 1);
        socket.destroy();
      }, this.frameMs);
    };
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      let fatal = false;
      try {
        frames = reader.push(chunk);
        // A frame completed in this chunk: what is left in progress began in it.
        if (frames.length > 0 || reader.bufferedBytes === 0) stopFrameTimer();
        if (reader.bufferedBytes > 0 && frameTimer === undefined) startFrameTimer();
      } catch (err) {
        // The frames before the error are good; the rest of the stream is not readable.
        frames = err instanceof CodecError ? err.frames : [];
        fatal = true;
        this.metrics.refused(protocol, err instanceof CodecError ? err.code : 'SSF_FRAME_VERSION', 1);
        this.metrics.refused(protocol, 'GW_ERR_STREAM_CLOSED', 1);
        socket.destroy();
      }
      if (frames.length === 0) return;
      this.metrics.batchSize.observe(frames.length, { protocol });
      this.take(socket, frames, fatal, {
        stop: stopFrameTimer,
        resume: () => {
          if (reader.bufferedBytes > 0 && frameTimer === undefined) startFrameTimer();
        },
      });
    });
    socket.on('end', () => {
      try {
        reader.end();
      } catch (err) {
        this.metrics.refused(protocol, err instanceof CodecError ? err.code : 'SSF_FRAME_TRUNCATED', 1);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      stopFrameTimer();
      this.sockets.delete(socket);
    });
  }

  /**
   * Frames read from a connection -> the intake -> the sink, the connection
   * paused meanwhile. A tenant over its rate limit is not dropped: a stream
   * can push back, so the frames wait (counted) and the connection stays
   * paused until the tenant may send again (TCP flow control slows the sender).
   */
  private take(socket: Socket, frames: Buffer[], fatal: boolean, frameTimer: FrameTimer): void {
    const protocol = this.protocol;
    if (this.limits) {
      let bytes = 0;
      for (const f of frames) bytes += f.length;
      const waitS = this.limits.admit(this.tenant, bytes);
      if (waitS > 0) {
        this.metrics.tenantLimited(protocol, this.tenant, 1);
        if (!fatal) this.pause(socket, frameTimer);
        setTimeout(() => this.take(socket, frames, fatal, frameTimer), waitS * 1000).unref();
        return;
      }
    }
    const result = this.intake.fromEncoded(frames, this.tenant, protocol, nowNs());
    if (result.accepted.length === 0) {
      if (!fatal) this.resume(socket, frameTimer);
      return;
    }
    if (!fatal) this.pause(socket, frameTimer);
    this.sink
      .publish(packOf(result))
      .catch((err: unknown) => this.metrics.dropped(protocol, dropReason(err), result.events))
      .finally(() => {
        if (!fatal) this.resume(socket, frameTimer);
      });
  }

  /** Paused by the gateway (a slow sink, a tenant over its rate): the frame deadline stops meanwhile. */
  private pause(socket: Socket, frameTimer: FrameTimer): void {
    socket.pause();
    frameTimer.stop();
  }

  private resume(socket: Socket, frameTimer: FrameTimer): void {
    if (socket.destroyed) return;
    socket.resume();
    frameTimer.resume();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.end();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if ('path' in this.target && existsSync(this.target.path)) {
      try {
        unlinkSync(this.target.path);
      } catch {
        // already gone
      }
    }
  }
}

/** A socket file left by a process that died is removed; one that answers is in use. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const inUse = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (inUse) throw new Error(`${path} is in use by another process`);
  unlinkSync(path);
}
