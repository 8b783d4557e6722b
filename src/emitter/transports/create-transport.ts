import type { EmitterLogger } from '../logger.js';
import { HttpTransport } from './http-transport.js';
import { StreamTransport } from './stream-transport.js';
import type { Transport } from './transport.js';
import { MAX_UDP_PAYLOAD, UdpTransport } from './udp-transport.js';

export interface TransportOptions {
  maxDatagramBytes?: number | undefined;
  token?: string | undefined;
  maxBatchBytes?: number | undefined;
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
  logger: EmitterLogger;
}

/**
 * Chooses the transport from one address URL:
 * - `udp://host:port`: one span per datagram (Veneur's SSF UDP, default port 8128);
 * - `unix:///path/to.sock`: Veneur's framed stream over a UNIX socket;
 * - `tcp://host:port`: the framed stream over TCP;
 * - `http://host:port[/path]`, `https://...`: SSFBatch POSTs (path defaults to /v1/ssf).
 * Throws on an address it cannot use (createEmitter turns that into a no-op transport and one warning).
 */
export function createTransport(address: string, options: TransportOptions): Transport {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new Error(`SSF address "${address}" is not a URL: use udp://host:port, unix:///path, tcp://host:port or http(s)://host:port`);
  }
  switch (url.protocol) {
    case 'udp:':
      return new UdpTransport(url.hostname || '127.0.0.1', Number(url.port || 8128), options.maxDatagramBytes ?? MAX_UDP_PAYLOAD, options.logger);
    case 'unix:': {
      const path = decodeURIComponent(url.pathname);
      if (!path) throw new Error(`SSF address "${address}" has no socket path`);
      return new StreamTransport({ path }, options.logger);
    }
    case 'tcp:':
      if (!url.port) throw new Error(`SSF address "${address}" needs a port`);
      return new StreamTransport({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) }, options.logger);
    case 'http:':
    case 'https:':
      return new HttpTransport({
        url,
        token: options.token,
        maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
        timeoutMs: options.timeoutMs ?? 10_000,
        maxRetries: options.maxRetries ?? 3,
        logger: options.logger,
      });
    default:
      throw new Error(`SSF address "${address}" has an unsupported scheme ${url.protocol} (udp, unix, tcp, http, https)`);
  }
}
