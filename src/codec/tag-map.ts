/**
 * Sets `key` to `value` in a tag or attribute map (a plain object) as an own,
 * enumerable entry. Every map built from a client's keys goes through this:
 * an assignment `map['__proto__'] = value` would not add an entry (a string
 * given to the inherited `__proto__` setter is ignored, an object would
 * become the map's prototype), so that key is defined instead. Defined, it
 * is an ordinary entry: `for...in`, Object.keys, JSON.stringify and the
 * protobuf and RowBinary writers all see it, in insertion order.
 */
export function setTag<V>(map: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  else map[key] = value;
}
