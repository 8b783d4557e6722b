/** A plain identifier in backquotes; anything else is refused (names in DDL cannot be parameters). */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a plain identifier`);
  return `\`${name}\``;
}
