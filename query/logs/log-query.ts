import { queryError } from '../query-errors.js';
import { bodyTokens, foldCase } from './body-tokens.js';

/**
 * The log search language of `GET /v1/logs?q=` (docs/query/logs.md):
 * words, "quoted phrases", AND (also implied between two searches), OR, NOT
 * or a leading `-`, parentheses, and the fields `service:x`,
 * `severity:>=warn` and `attr.key:value`. A small hand-written
 * recursive-descent parser: the text becomes a {@link LogQuery} tree, which
 * log-sql.ts turns into SQL and highlight.ts into highlights.
 */

/** The `severity` column's Enum8 names; the index is the enum's value. */
export const SEVERITIES = ['unspecified', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type Comparison = '=' | '>' | '>=' | '<' | '<=';

/** A parsed search. `tokens` are the index tokens of the word or phrase, case-folded (body-tokens.ts `foldCase`). */
export type LogQuery =
  | { kind: 'term'; text: string; tokens: string[] }
  | { kind: 'phrase'; text: string; tokens: string[] }
  | { kind: 'service'; value: string }
  | { kind: 'severity'; op: Comparison; value: Severity }
  | { kind: 'attribute'; key: string; value: string }
  | { kind: 'not'; operand: LogQuery }
  | { kind: 'and'; operands: LogQuery[] }
  | { kind: 'or'; operands: LogQuery[] };

/**
 * Bounds that keep the generated SQL small, and its cost per row: a word is
 * its index tokens (body-tokens.ts: `a.b.c` is three), each a `hasToken`, so
 * the tokens are what a search costs; under a NOT no index skips granules
 * and every row pays for all of them. At most `maxTokens` tokens
 * (`maxTokensPerSearch` in one word or phrase): at most 128 `hasToken` calls
 * and 64 `match` in one search, where 4,096 characters of `a.b.c...` were
 * 1,365 `hasToken` calls (5,460 when each token was four spellings).
 */
export const QUERY_LIMITS = { maxLength: 4096, maxSearches: 64, maxDepth: 32, maxTokensPerSearch: 32, maxTokens: 128 } as const;

type Lexeme =
  | { type: '(' | ')' | 'AND' | 'OR' | 'NOT' | '-'; pos: number }
  | { type: 'word'; text: string; pos: number }
  | { type: 'phrase'; text: string; pos: number }
  | { type: 'field'; name: string; value: string; pos: number; valuePos: number };

/** A refusal that names the position (0-based, in UTF-16 units like the highlights) in `q`. */
function fail(pos: number, message: string): never {
  throw queryError('QUERY_ERR_BAD_REQUEST', `q (position ${pos}): ${message}`);
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

/** Reads a quoted string starting at `open` (the quote); `\"` and `\\` are escapes. Returns the text and the index after the closing quote. */
function readQuoted(q: string, open: number): { text: string; next: number } {
  let text = '';
  for (let i = open + 1; i < q.length; i++) {
    const ch = q[i] as string;
    if (ch === '\\' && i + 1 < q.length) {
      text += q[i + 1];
      i++;
    } else if (ch === '"') {
      return { text, next: i + 1 };
    } else {
      text += ch;
    }
  }
  return fail(open, 'unterminated quote: this " has no closing "');
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

function lex(q: string): Lexeme[] {
  const out: Lexeme[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i] as string;
    if (isSpace(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      out.push({ type: ch, pos: i });
      i++;
    } else if (ch === '"') {
      const { text, next } = readQuoted(q, i);
      out.push({ type: 'phrase', text, pos: i });
      i = next;
    } else if (ch === '-' && i + 1 < q.length && !isSpace(q[i + 1] as string) && q[i + 1] !== ')') {
      out.push({ type: '-', pos: i });
      i++;
    } else {
      const start = i;
      while (i < q.length && !isSpace(q[i] as string) && q[i] !== '(' && q[i] !== ')' && q[i] !== '"') i++;
      const word = q.slice(start, i);
      if (word === 'AND' || word === 'OR' || word === 'NOT') {
        out.push({ type: word, pos: start });
        continue;
      }
      const colon = word.indexOf(':');
      const name = word.slice(0, colon);
      if (colon <= 0 || !FIELD_NAME.test(name)) {
        out.push({ type: 'word', text: word, pos: start });
        continue;
      }
      if (name !== 'service' && name !== 'severity' && !(name.startsWith('attr.') && name.length > 5)) {
        fail(start, `unknown field "${name}": the fields are service:, severity: and attr.<key>: (put the text in quotes to search it as words)`);
      }
      let value = word.slice(colon + 1);
      const valuePos = start + colon + 1;
      if (value === '' && q[i] === '"') {
        const quoted = readQuoted(q, i);
        value = quoted.text;
        i = quoted.next;
      }
      if (value === '') fail(valuePos, `${name}: needs a value`);
      out.push({ type: 'field', name, value, pos: start, valuePos });
    }
  }
  return out;
}

const COMPARISON = /^(>=|<=|>|<|=)?(.*)$/;

function fieldNode(lexeme: Extract<Lexeme, { type: 'field' }>): LogQuery {
  if (lexeme.name === 'service') return { kind: 'service', value: lexeme.value };
  if (lexeme.name === 'severity') {
    const m = COMPARISON.exec(lexeme.value) as RegExpExecArray;
    const name = (m[2] as string).toLowerCase();
    const value = SEVERITIES.find((s) => s === name && s !== 'unspecified');
    if (!value)
      fail(lexeme.valuePos, `severity: "${lexeme.value}" is not a severity: give trace, debug, info, warn, error or fatal, optionally after >=, >, <=, < or =`);
    return { kind: 'severity', op: (m[1] ?? '=') as Comparison, value };
  }
  return { kind: 'attribute', key: lexeme.name.slice('attr.'.length), value: lexeme.value };
}

/** Recursive descent over the lexemes: or := and (OR and)*; and := unary ((AND)? unary)*; unary := (NOT|-) unary | primary. */
class Parser {
  private at = 0;
  private searches = 0;
  private tokens = 0;

  constructor(
    private readonly lexemes: Lexeme[],
    private readonly length: number,
  ) {}

  parse(): LogQuery {
    const node = this.or(0);
    const rest = this.lexemes[this.at];
    if (rest) fail(rest.pos, rest.type === ')' ? 'unbalanced parenthesis: this ) has no (' : `unexpected ${rest.type}`);
    return node;
  }

  private peek(): Lexeme | undefined {
    return this.lexemes[this.at];
  }

  private startsSearch(l: Lexeme | undefined): boolean {
    return l !== undefined && l.type !== ')' && l.type !== 'AND' && l.type !== 'OR';
  }

  /** Fails unless a search follows the operator `op`. */
  private needSearchAfter(op: Lexeme): void {
    const next = this.peek();
    if (this.startsSearch(next)) return;
    fail(next?.pos ?? this.length, `${op.type} at position ${op.pos} needs a search after it`);
  }

  private or(depth: number): LogQuery {
    const operands = [this.and(depth)];
    for (let l = this.peek(); l?.type === 'OR'; l = this.peek()) {
      this.at++;
      this.needSearchAfter(l);
      operands.push(this.and(depth));
    }
    return operands.length === 1 ? (operands[0] as LogQuery) : { kind: 'or', operands };
  }

  private and(depth: number): LogQuery {
    const operands = [this.unary(depth)];
    for (;;) {
      const l = this.peek();
      if (l?.type === 'AND') {
        this.at++;
        this.needSearchAfter(l);
      } else if (!this.startsSearch(l)) {
        break;
      }
      operands.push(this.unary(depth));
    }
    return operands.length === 1 ? (operands[0] as LogQuery) : { kind: 'and', operands };
  }

  private unary(depth: number): LogQuery {
    if (depth > QUERY_LIMITS.maxDepth) fail(this.peek()?.pos ?? this.length, `nested deeper than ${QUERY_LIMITS.maxDepth} levels`);
    const l = this.peek();
    if (l?.type === 'NOT' || l?.type === '-') {
      this.at++;
      this.needSearchAfter(l);
      return { kind: 'not', operand: this.unary(depth + 1) };
    }
    return this.primary(depth);
  }

  private primary(depth: number): LogQuery {
    const l = this.peek();
    if (l === undefined) return fail(this.length, 'a search is expected here');
    this.at++;
    switch (l.type) {
      case '(': {
        if (this.peek()?.type === ')') fail(l.pos, 'empty parentheses');
        const node = this.or(depth + 1);
        if (this.peek()?.type !== ')') fail(l.pos, 'unbalanced parenthesis: this ( is never closed');
        this.at++;
        return node;
      }
      case 'word':
      case 'phrase': {
        const tokens = bodyTokens(l.text).map((t) => foldCase(t.text));
        const what = `${l.type === 'word' ? 'the word' : 'the phrase'} "${l.text.length > 40 ? `${l.text.slice(0, 40)}...` : l.text}"`;
        if (tokens.length === 0) fail(l.pos, `${what} has no letters or digits to search for`);
        if (tokens.length > QUERY_LIMITS.maxTokensPerSearch) {
          fail(l.pos, `${what} is ${tokens.length} words to the index (punctuation separates words), more than ${QUERY_LIMITS.maxTokensPerSearch}`);
        }
        this.tokens += tokens.length;
        if (this.tokens > QUERY_LIMITS.maxTokens) {
          fail(l.pos, `more than ${QUERY_LIMITS.maxTokens} words to the index in one query (punctuation separates words: a.b.c is 3)`);
        }
        this.counted(l.pos);
        return { kind: l.type === 'word' ? 'term' : 'phrase', text: l.text, tokens };
      }
      case 'field':
        this.counted(l.pos);
        return fieldNode(l);
      case ')':
        return fail(l.pos, 'unbalanced parenthesis: this ) has no (');
      default:
        return fail(l.pos, `${l.type} needs a search before it`);
    }
  }

  private counted(pos: number): void {
    if (++this.searches > QUERY_LIMITS.maxSearches) fail(pos, `more than ${QUERY_LIMITS.maxSearches} searches in one query`);
  }
}

/** Parses `q`; a mistake is a QUERY_ERR_BAD_REQUEST naming its position. */
export function parseLogQuery(q: string): LogQuery {
  if (q.length > QUERY_LIMITS.maxLength) fail(QUERY_LIMITS.maxLength, `longer than ${QUERY_LIMITS.maxLength} characters`);
  const lexemes = lex(q);
  if (lexemes.length === 0) fail(0, 'the search is empty (leave q out to list every log)');
  return new Parser(lexemes, q.length).parse();
}

/** A word or phrase of the search, as typed and as index tokens. */
export interface SearchedText {
  text: string;
  tokens: string[];
}

/** The words and phrases a matching log contains (those under no NOT, or under an even number): what is highlighted. */
export function positiveSearches(node: LogQuery): { terms: SearchedText[]; phrases: SearchedText[] } {
  const found = { terms: [] as SearchedText[], phrases: [] as SearchedText[] };
  const walk = (n: LogQuery, negated: boolean): void => {
    if (n.kind === 'term' && !negated) found.terms.push({ text: n.text, tokens: n.tokens });
    if (n.kind === 'phrase' && !negated) found.phrases.push({ text: n.text, tokens: n.tokens });
    if (n.kind === 'not') walk(n.operand, !negated);
    if (n.kind === 'and' || n.kind === 'or') for (const o of n.operands) walk(o, negated);
  };
  walk(node, false);
  return found;
}
