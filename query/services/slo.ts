import { queryError } from '../query-errors.js';
import type { QueryRunner } from '../query-runner.js';
import { BURN_ALERT_RULES, evaluateBurnAlerts } from './burn-alerts.js';
import type { BurnAlert } from './burn-alerts.js';
import { windowEnd } from './slo-windows.js';
import type { SloWindow } from './slo-windows.js';

/** The SLI and its error budget over one window. */
export interface SloNumbers {
  window: string;
  /** RFC 3339: [from, to). */
  from: string;
  to: string;
  /** Indicator spans. */
  total: number;
  good: number;
  /** Failed spans, and with a latency threshold also the slower ones. */
  bad: number;
  /** good / total; null without traffic. */
  availability: number | null;
  /** Latency of the indicator spans, ±1 % (DDSketch); null without traffic. */
  p50_ms: number | null;
  p99_ms: number | null;
  /** Bad requests the objective allows in this window: (1 - objective) * total. */
  error_budget: number;
  /** bad / error_budget; null without traffic. */
  budget_consumed: number | null;
  /** 1 - budget_consumed (negative once overspent). */
  budget_remaining: number | null;
  /** (bad / total) / (1 - objective): 1 spends the budget exactly over the window. */
  burn_rate: number | null;
}

/** One service's SLIs, overall and per objective (span name). */
export interface ServiceSlo {
  service: string;
  windows: SloNumbers[];
  objectives: Array<{ objective: string; windows: SloNumbers[] }>;
}

/** `GET /v1/slo`. */
export interface SloReport {
  /** End of every window (RFC 3339): `to` rounded up to the minute. */
  to: string;
  objective: number;
  latency_ms: number | null;
  /** Where total/good/bad come from: the rollups (errors only) or the raw spans (with a latency threshold). */
  counts_from: 'rollup' | 'spans';
  windows: Array<{ window: string; from: string; to: string }>;
  services: ServiceSlo[];
  /** The workbook's multi-window burn-rate rules, evaluated per service (burn-alerts.ts). */
  alerts: BurnAlert[];
}

export interface SloOptions {
  /** Epoch ms; windows end at this time rounded up to the minute. */
  to: number;
  /** Only these services (all with indicator spans when absent or empty). */
  services?: readonly string[] | undefined;
  /** Availability target in (0, 1), e.g. 0.999. */
  objective: number;
  /** A request slower than this is bad too (counted from the raw spans). */
  latencyMs?: number | undefined;
  windows: readonly SloWindow[];
}

interface Cell {
  total: number;
  bad: number;
  p50: number | null;
  p99: number | null;
}

interface RollupRow {
  service: string;
  objective: string;
  w: string;
  total: number;
  bad: number;
  q: [number, number];
}

interface SpanCountRow {
  service: string;
  objective: string;
  w: string;
  total: string;
  bad: string;
}

/** Per (service, objective, window start) cells; objective '' is the service as a whole. */
type Cells = Map<string, Map<string, Map<number, Cell>>>;

function cellOf(cells: Cells, service: string, objective: string, start: number): Cell {
  let byObjective = cells.get(service);
  if (!byObjective) cells.set(service, (byObjective = new Map()));
  let byWindow = byObjective.get(objective);
  if (!byWindow) byObjective.set(objective, (byWindow = new Map()));
  let cell = byWindow.get(start);
  if (!cell) byWindow.set(start, (cell = { total: 0, bad: 0, p50: null, p99: null }));
  return cell;
}

/** Counts and sketches of one rollup metric per window (a row counts in every window whose start it is at or after). */
async function readRollup(
  runner: QueryRunner,
  tenant: string,
  metric: 'ssf.indicator.duration' | 'ssf.objective.duration',
  params: Record<string, unknown>,
): Promise<RollupRow[]> {
  const objective = metric === 'ssf.objective.duration' ? `tags['objective']` : `''`;
  return runner.rows<RollupRow>(
    `SELECT tags['service'] AS service, ${objective} AS objective,
            arrayJoin(arrayFilter(s -> toInt64(toUnixTimestamp(bucket)) * 1000 >= s, {starts:Array(Int64)})) AS w,
            sum(count) AS total, sumIf(count, tags['error'] = 'true') AS bad,
            quantilesDDMerge(0.01, 0.5, 0.99)(quantiles) AS q
     FROM ${runner.table('metrics_1m')}
     WHERE tenant = {tenant:String} AND name = {metric:String} AND type = 'histogram'
       AND bucket >= fromUnixTimestamp64Milli({fromMs:Int64}) AND bucket < fromUnixTimestamp64Milli({toMs:Int64})
       AND ({all:Bool} OR tags['service'] IN {services:Array(String)})
     GROUP BY service, objective, w`,
    tenant,
    { ...params, metric },
  );
}

/**
 * Indicator spans per (service, span name, window) from the raw spans, with
 * a request slower than the threshold counted bad: the sketches cannot
 * count exactly below a value. Reads every indicator span of the longest
 * window (one key range per ten minutes; the set index skips no granule,
 * indicator is not indexed).
 */
async function readSpanCounts(runner: QueryRunner, tenant: string, params: Record<string, unknown>): Promise<SpanCountRow[]> {
  return runner.rows<SpanCountRow>(
    `SELECT service, name AS objective,
            arrayJoin(arrayFilter(s -> toUnixTimestamp64Milli(start) >= s, {starts:Array(Int64)})) AS w,
            count() AS total, countIf(error OR duration_ns > {latencyNs:Int64}) AS bad
     FROM ${runner.table('spans')}
     WHERE tenant = {tenant:String} AND indicator
       AND start >= fromUnixTimestamp64Milli({fromMs:Int64}) AND start < fromUnixTimestamp64Milli({toMs:Int64})
       AND ({all:Bool} OR service IN {services:Array(String)})
     GROUP BY service, objective, w`,
    tenant,
    params,
  );
}

/** A ratio without binary floating-point noise (0.16, not 0.16000000000000014): 12 significant digits. */
const tidy = (x: number): number => Number(x.toPrecision(12));

/** An objective's error budget over `total` requests, and how much of it `bad` spent: the SLO page's and the SLO report's figures. */
export function errorBudget(
  total: number,
  bad: number,
  objective: number,
): { error_budget: number; budget_consumed: number | null; budget_remaining: number | null; burn_rate: number | null } {
  // 1 - 0.999 is 0.0010000000000000009 in binary; the objective is written in decimal.
  const allowed = tidy(1 - objective);
  const budget = tidy(allowed * total);
  return {
    error_budget: budget,
    budget_consumed: budget > 0 ? tidy(bad / budget) : null,
    budget_remaining: budget > 0 ? tidy(1 - bad / budget) : null,
    burn_rate: total > 0 ? tidy(bad / total / allowed) : null,
  };
}

function numbersOf(window: SloWindow, end: number, cell: Cell | undefined, objective: number): SloNumbers {
  const total = cell?.total ?? 0;
  const bad = cell?.bad ?? 0;
  return {
    window: window.name,
    from: new Date(end - window.ms).toISOString(),
    to: new Date(end).toISOString(),
    total,
    good: total - bad,
    bad,
    availability: total > 0 ? (total - bad) / total : null,
    p50_ms: total > 0 ? (cell?.p50 ?? null) : null,
    p99_ms: total > 0 ? (cell?.p99 ?? null) : null,
    ...errorBudget(total, bad, objective),
  };
}

/**
 * SLIs of indicator spans (Veneur's indicator and objective timers) over
 * each window ending at `to`, with error budgets, burn rates and the
 * multi-window burn alerts. Counts and latency come from the
 * `ssf.indicator.duration` and `ssf.objective.duration` rollups (by whole
 * minutes); with `latencyMs`, total/good/bad come from the raw indicator
 * spans instead, so "slower than the threshold" is counted exactly.
 */
export async function computeSlos(runner: QueryRunner, tenant: string, options: SloOptions): Promise<SloReport> {
  if (!(options.objective > 0 && options.objective < 1)) throw queryError('QUERY_ERR_BAD_REQUEST', `objective ${options.objective} is not in (0, 1)`);
  if (options.windows.length === 0) throw queryError('QUERY_ERR_BAD_REQUEST', 'no window given');
  const end = windowEnd(options.to);
  // The alerts need their own windows: read them all in one pass, answer the asked ones.
  const lengths = [...new Set([...options.windows.map((w) => w.ms), ...BURN_ALERT_RULES.flatMap((r) => [r.long.ms, r.short.ms])])];
  const starts = lengths.map((ms) => end - ms);
  const all = options.services === undefined || options.services.length === 0;
  const params = { tenant, starts, fromMs: Math.min(...starts), toMs: end, all, services: options.services ?? [] };

  const spanCounts = options.latencyMs !== undefined;
  const [indicator, objectives, counts] = await Promise.all([
    readRollup(runner, tenant, 'ssf.indicator.duration', params),
    readRollup(runner, tenant, 'ssf.objective.duration', params),
    spanCounts ? readSpanCounts(runner, tenant, { ...params, latencyNs: Math.round((options.latencyMs as number) * 1e6) }) : Promise.resolve([]),
  ]);

  const cells: Cells = new Map();
  for (const r of [...indicator, ...objectives]) {
    const cell = cellOf(cells, r.service, r.objective, Number(r.w));
    cell.p50 = r.q[0];
    cell.p99 = r.q[1];
    if (!spanCounts) {
      cell.total = r.total;
      cell.bad = r.bad;
    }
  }
  for (const r of counts) {
    for (const objective of [r.objective, '']) {
      const cell = cellOf(cells, r.service, objective, Number(r.w));
      cell.total += Number(r.total);
      cell.bad += Number(r.bad);
    }
  }

  const services: ServiceSlo[] = [];
  const alerts: BurnAlert[] = [];
  for (const service of [...cells.keys()].sort()) {
    const byObjective = cells.get(service) as Map<string, Map<number, Cell>>;
    const windowsOf = (objective: string, windows: readonly SloWindow[]): SloNumbers[] =>
      windows.map((w) => numbersOf(w, end, byObjective.get(objective)?.get(end - w.ms), options.objective));
    services.push({
      service,
      windows: windowsOf('', options.windows),
      objectives: [...byObjective.keys()]
        .filter((o) => o !== '')
        .sort()
        .map((objective) => ({ objective, windows: windowsOf(objective, options.windows) })),
    });
    const burn = new Map(lengths.map((ms) => [ms, numbersOf({ name: '', ms }, end, byObjective.get('')?.get(end - ms), options.objective).burn_rate]));
    alerts.push(...evaluateBurnAlerts(service, burn));
  }

  return {
    to: new Date(end).toISOString(),
    objective: options.objective,
    latency_ms: options.latencyMs ?? null,
    counts_from: spanCounts ? 'spans' : 'rollup',
    windows: options.windows.map((w) => ({ window: w.name, from: new Date(end - w.ms).toISOString(), to: new Date(end).toISOString() })),
    services,
    alerts,
  };
}
