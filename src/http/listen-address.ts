/** `host:port` of a bound address, an IPv6 host in brackets (`[::1]:4318`): what a URL and splitHostPort take. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `host:port` (IPv6 hosts in brackets) of a listen setting, as bind() wants them. */
export function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}
