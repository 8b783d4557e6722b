import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { defineErrors } from '../errors/define-errors.js';
import { configSchema, RENAMED } from './config-schema.js';
import type { Config } from './config-schema.js';

export type { Config };

/** A setting as the docs and the environment see it. */
export interface SettingInfo {
  /** Dotted path in the config file, e.g. `clickhouse.url`. */
  path: string;
  /** Environment variable, e.g. `SSF_CLICKHOUSE_URL`. */
  env: string;
  kind: 'string' | 'number' | 'boolean' | 'enum' | 'list' | 'map';
  default: unknown;
  description: string;
  choices?: readonly string[];
  /** A number setting's bounds in words (`a whole number from 1 to 9`), as the schema checks them. */
  range?: string;
}

/** The configuration's catalog (status 0: the process does not start; never an HTTP answer). */
export const ConfigErrors = defineErrors('CFG', {
  CFG_INVALID: { status: 0, retriable: false, text: 'a setting is unknown or its value does not fit; the process does not start' },
});

/**
 * Configuration errors: start-up stops with the message, which names the
 * setting (the message is printed as it is, without the code, by the CLI).
 */
export class ConfigError extends Error {
  readonly code = 'CFG_INVALID' satisfies (typeof ConfigErrors.codes)[number];
  readonly retriable = ConfigErrors.entries.CFG_INVALID.retriable;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Def = { type: string; innerType?: z.ZodType; defaultValue?: unknown; entries?: Record<string, string> };
const defOf = (s: z.ZodType): Def => s._zod.def as Def;

function envName(path: string): string {
  return `SSF_${path
    .replace(/\./g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()}`;
}

type Bound = { check: string; value?: unknown; inclusive?: boolean };

/** The bounds a number schema checks, in words: what docs/configuration.md says of its range. */
function rangeOf(n: z.ZodNumber): string {
  let lo: { value: number; inclusive: boolean } | undefined;
  let hi: { value: number; inclusive: boolean } | undefined;
  for (const c of n._zod.def.checks ?? []) {
    const d = c._zod.def as Bound;
    if (typeof d.value !== 'number') continue;
    if (d.check === 'greater_than') lo = { value: d.value, inclusive: d.inclusive === true };
    if (d.check === 'less_than') hi = { value: d.value, inclusive: d.inclusive === true };
  }
  // A whole number's exclusive bound is the next whole number inside it (positive: at least 1).
  if (n.isInt) {
    if (lo && !lo.inclusive) lo = { value: lo.value + 1, inclusive: true };
    if (hi && !hi.inclusive) hi = { value: hi.value - 1, inclusive: true };
  }
  const what = n.isInt ? 'a whole number' : 'a number';
  const low = lo === undefined ? '' : `${lo.inclusive ? 'at least' : 'more than'} ${lo.value}`;
  const high = hi === undefined ? '' : `${hi.inclusive ? 'at most' : 'less than'} ${hi.value}`;
  if (lo?.inclusive && hi?.inclusive) return `${what} from ${lo.value} to ${hi.value}`;
  return [what, low, high].filter((t) => t !== '').join(', ');
}

/** Every leaf setting of the schema, in schema order. */
export function listSettings(): SettingInfo[] {
  const out: SettingInfo[] = [];
  for (const [section, sectionSchema] of Object.entries(configSchema.shape)) {
    let obj: z.ZodType = sectionSchema;
    while (defOf(obj).innerType) obj = defOf(obj).innerType as z.ZodType;
    for (const [key, leaf] of Object.entries((obj as z.ZodObject).shape)) {
      const path = `${section}.${key}`;
      let inner: z.ZodType = leaf;
      let dflt: unknown;
      while (defOf(inner).innerType) {
        if (defOf(inner).type === 'default') dflt = defOf(inner).defaultValue;
        inner = defOf(inner).innerType as z.ZodType;
      }
      const t = defOf(inner).type;
      const kind = t === 'array' ? 'list' : t === 'record' ? 'map' : (t as SettingInfo['kind']);
      const info: SettingInfo = { path, env: envName(path), kind, default: dflt, description: leaf.description ?? '' };
      if (t === 'enum') info.choices = Object.values(defOf(inner).entries ?? {});
      if (t === 'number') info.range = rangeOf(inner as z.ZodNumber);
      out.push(info);
    }
  }
  return out;
}

function parseEnvValue(info: SettingInfo, raw: string): unknown {
  switch (info.kind) {
    case 'number': {
      const n = Number(raw.replace(/_/g, ''));
      if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${info.env}="${raw}" is not a number`);
      return n;
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off|)$/i.test(raw)) return false;
      throw new ConfigError(`${info.env}="${raw}" is not a boolean (true/false)`);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'map': {
      const m: Record<string, string> = {};
      for (const pair of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const at = pair.indexOf('=');
        if (at <= 0) throw new ConfigError(`${info.env}: "${pair}" is not key=value`);
        m[pair.slice(0, at)] = pair.slice(at + 1);
      }
      return m;
    }
    default:
      return raw;
  }
}

/** The closest known name, for "did you mean" hints. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export interface LoadConfigOptions {
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
  /** A JSON file of settings (nested like the schema). Default: `$SSF_CONFIG_FILE`. Environment variables win over it. */
  file?: string;
  /** Settings given by the program (e.g. CLI flags); they win over both. */
  overrides?: Record<string, Record<string, unknown>>;
}

/**
 * Reads, validates and freezes the configuration: file, then environment,
 * then overrides. Unknown keys and unknown `SSF_*` variables are refused with
 * a hint; throws ConfigError naming the setting.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const settings = listSettings();
  const input: Record<string, Record<string, unknown>> = {};
  const set = (path: string, value: unknown): void => {
    const [section, key] = path.split('.') as [string, string];
    (input[section] ??= {})[key] = value;
  };

  const file = options.file ?? env['SSF_CONFIG_FILE'];
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold a JSON object`);
    for (const [section, values] of Object.entries(parsed)) {
      if (typeof values !== 'object' || values === null) {
        input[section] = values as Record<string, unknown>;
        continue;
      }
      for (const [key, value] of Object.entries(values as Record<string, unknown>)) set(`${section}.${key}`, value);
    }
  }

  const byEnv = new Map(settings.map((s) => [s.env, s]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SSF_') || raw === undefined || name === 'SSF_CONFIG_FILE') continue;
    const info = byEnv.get(name);
    if (!info) {
      // The emitter's own variables live in the same namespace.
      if (name === 'SSF_ADDRESS' || name === 'SSF_TOKEN' || name === 'SSF_SERVICE' || name.startsWith('SSF_TRACE_') || name.startsWith('SSF_PARENT_')) continue;
      const hint = RENAMED[name] ?? closest(name, [...byEnv.keys()]);
      throw new ConfigError(`unknown setting ${name}${hint ? `: use ${hint}` : ''} (docs/configuration.md lists them all)`);
    }
    set(info.path, parseEnvValue(info, raw));
  }
  for (const [section, values] of Object.entries(options.overrides ?? {})) {
    for (const [key, value] of Object.entries(values)) if (value !== undefined) set(`${section}.${key}`, value);
  }

  const result = configSchema.safeParse(input);
  if (!result.success) {
    const known = settings.map((s) => s.path);
    const problems = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys
          .map((k) => {
            const path = [...issue.path.map(String), k].join('.');
            const hint = closest(path, known);
            return `unknown setting ${path}${hint ? `: did you mean ${hint}?` : ''}`;
          })
          .join('; ');
      }
      const path = issue.path.map(String).join('.');
      const info = settings.find((s) => s.path === path);
      return `${path}${info ? ` (${info.env})` : ''}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return deepFreeze(result.data);
}
