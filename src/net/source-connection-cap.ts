import { isIPv4, isIPv6 } from 'node:net';
import type { Server, Socket } from 'node:net';

/** The per-source bound of one TCP listener (docs/security.md, "Connections per source"). */
export interface SourceConnectionLimit {
  /** Connections one source may hold open at once on the listener. */
  maxPerSource: number;
  /** An IPv6 source is this many leading bits of the address (64: a whole /64, which one host usually owns); 128: each address alone. */
  ipv6PrefixLength: number;
  /**
   * Whether loopback sources (127.0.0.0/8, ::1) are capped too. Behind a
   * sidecar proxy every client is a loopback address, and only this host's
   * processes can use one: not capped unless asked.
   */
  capLoopback: boolean;
}

/**
 * The source a remote address counts against: an IPv4 address as itself (an
 * IPv4-mapped IPv6 address, `::ffff:1.2.3.4` as Node reports a dual-stack
 * listener's IPv4 peers, is that IPv4 address), an IPv6 address as its first
 * `ipv6PrefixLength` bits (`2001:db8:0:1::/64`); undefined for an address
 * that is neither (none: a UNIX socket, or a socket already closed).
 */
export function sourceOf(address: string | undefined, ipv6PrefixLength: number): string | undefined {
  if (address === undefined) return undefined;
  if (isIPv4(address)) return address;
  // A zone (fe80::1%eth0) names the interface, not the host.
  const bare = address.split('%')[0] ?? '';
  if (!isIPv6(bare)) return undefined;
  const bytes = ipv6Bytes(bare);
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.subarray(12).join('.');
  for (let bit = ipv6PrefixLength; bit < 128; bit++) bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~(0x80 >> (bit & 7));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return `${groups.join(':')}/${ipv6PrefixLength}`;
}

/** Whether a remote address is a loopback one: 127.0.0.0/8 (also IPv4-mapped), or ::1. */
export function isLoopbackAddress(address: string | undefined): boolean {
  const alone = sourceOf(address, 128);
  return alone !== undefined && (isIPv4(alone) ? alone.startsWith('127.') : alone === '0:0:0:0:0:0:0:1/128');
}

/** The 16 bytes of a valid IPv6 address (isIPv6 said so): `::` expanded, a trailing dotted IPv4 part read as its 4 bytes. */
function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted.slice(1).map(Number));
    text = `${text.slice(0, dotted.index)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const words = [...left, ...Array<string>(zeros).fill('0'), ...right].map((w) => Number.parseInt(w, 16));
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

/** What a listener's per-source cap holds now (for tests and diagnostics). */
export interface SourceConnections {
  /** Connections of this source (as sourceOf names it) open now. */
  held(source: string): number;
  /** Sources with a connection open now. */
  sources(): number;
}

/**
 * Bounds the connections each source holds open on a TCP listener, on top of
 * the listener's global `maxConnections`: one client that opens that many
 * idle sockets would otherwise lock every other client out. Node checks the
 * global cap before 'connection'; this checks the per-source one at
 * 'connection', before any byte is read or any credential seen: a connection
 * over it is destroyed and `refused` is called, and the protocol never sees it.
 *
 * It takes over the 'connection' listeners the server has now (those of its
 * constructor: Node's HTTP and HTTP/2 parsers, or a `createServer` callback)
 * and calls them only for connections it admits: call it once the server is
 * made and before it listens. A listener added later would see every connection.
 *
 * Invariant: the count of a source is the number of its admitted sockets that
 * have not emitted 'close'. Every net.Socket emits 'close' exactly once, after
 * destroy() and after an error as after an orderly end, so the count returns
 * to zero whatever way a connection ends; a source at zero is forgotten (the
 * map holds only sources with a connection open). A socket without an address
 * (it closed before it was accepted) is passed on uncounted, as Node would; so
 * is a loopback one unless `limit.capLoopback`.
 */
export function capConnectionsPerSource(server: Server, limit: SourceConnectionLimit, refused: (source: string) => void): SourceConnections {
  const open = new Map<string, number>();
  const downstream = server.listeners('connection');
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const source = limit.capLoopback || !isLoopbackAddress(socket.remoteAddress) ? sourceOf(socket.remoteAddress, limit.ipv6PrefixLength) : undefined;
    if (source !== undefined) {
      const held = open.get(source) ?? 0;
      if (held >= limit.maxPerSource) {
        socket.destroy();
        refused(source);
        return;
      }
      open.set(source, held + 1);
      socket.once('close', () => {
        const left = (open.get(source) ?? 1) - 1;
        if (left === 0) open.delete(source);
        else open.set(source, left);
      });
    }
    for (const listener of downstream) Reflect.apply(listener, server, [socket]);
  });
  return { held: (source) => open.get(source) ?? 0, sources: () => open.size };
}
