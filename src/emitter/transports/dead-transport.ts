import type { Outcome, Transport } from './transport.js';

/** A transport for an unusable address: everything is dropped and counted as `send_failed`. */
export const deadTransport: Transport = {
  protocol: 'none',
  ready: true,
  send: (spans) => Promise.resolve(spans.map((): Outcome => 'send_failed')),
  close: () => Promise.resolve(),
};
