import { metricQuerySql, planMetricQuery, rowsToSeries } from '../metrics/metric-query.js';
import type { MetricPointRow } from '../metrics/metric-query.js';
import type { QueryRunner } from '../query-runner.js';
import { serviceStats } from '../services/service-stats.js';
import type { OperationStats } from '../services/service-stats.js';
import { computeSlos, errorBudget } from '../services/slo.js';
import { JobInputError } from './job-input-error.js';
import { isoUtc } from './time-chunks.js';

const MINUTE_MS = 60_000;
/** Points of the p99-over-time series, about. */
const SERIES_POINTS = 60;
const STEPS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

/** An operation (span name) ranked among a service's worst. */
export interface EndpointReport {
  name: string;
  spans: number;
  errors: number;
  error_rate: number;
  p99_ms: number;
}

/** One service over the report's range. */
export interface ServiceReport {
  service: string;
  /**
   * What availability counts: `indicator` spans (the service's SLI, as
   * GET /v1/slo computes it), or all of its `spans` when it has no indicator.
   */
  sli: 'indicator' | 'spans';
  total: number;
  bad: number;
  /** good / total; null without traffic. */
  availability: number | null;
  /** Latency of all the service's spans, ±1 % (DDSketch). */
  p50_ms: number;
  p99_ms: number;
  /** Bad requests the objective allows over the range: (1 - objective) * total. */
  error_budget: number;
  budget_consumed: number | null;
  /** 1 - budget_consumed: negative once overspent. */
  budget_remaining: number | null;
  /** (bad / total) / (1 - objective): 1 spends the budget exactly as fast as the objective allows. */
  burn_rate: number | null;
  meets_objective: boolean | null;
  worst_by_error_rate: EndpointReport[];
  worst_by_p99: EndpointReport[];
}

/** `ssf analytics slo-report`: what the text, JSON and HTML forms show. */
export interface SloReportData {
  tenant: string;
  /** The range, widened to whole minutes (the rollups count by minute). */
  from: string;
  to: string;
  objective: number;
  services: ServiceReport[];
  /** p99 of each service's spans over time (`ssf.span.duration`), [epoch ms, ms] points. */
  p99_series: { step_ms: number; series: Array<{ service: string; points: Array<[number, number]> }> };
}

export interface SloReportOptions {
  tenant: string;
  fromMs: number;
  toMs: number;
  /** Availability target in (0, 1). */
  objective: number;
  /** Endpoints in each worst-of list (default 5). */
  worst?: number;
}

function budgetOf(
  total: number,
  bad: number,
  objective: number,
): Pick<ServiceReport, 'availability' | 'error_budget' | 'budget_consumed' | 'budget_remaining' | 'burn_rate' | 'meets_objective'> {
  const availability = total > 0 ? (total - bad) / total : null;
  return {
    availability,
    ...errorBudget(total, bad, objective),
    meets_objective: availability === null ? null : availability >= objective,
  };
}

function endpoint(o: OperationStats): EndpointReport {
  return { name: o.name, spans: o.count, errors: o.errors, error_rate: o.count > 0 ? o.errors / o.count : 0, p99_ms: o.p99_ms };
}

/** A step of whole minutes giving about SERIES_POINTS points over the range. */
export function seriesStepMs(rangeMs: number): number {
  const wanted = rangeMs / SERIES_POINTS / MINUTE_MS;
  return (STEPS_MIN.find((m) => m >= wanted) ?? Math.ceil(wanted / 1440) * 1440) * MINUTE_MS;
}

/**
 * The numbers of an SLO report over [from, to) for one tenant, built on the
 * query API's own computations: `computeSlos` (GET /v1/slo) for services
 * with indicator spans, `serviceStats` (GET /v1/services) for every
 * service's spans, latency and operations, and the metric query
 * (GET /v1/metrics/query) for p99 over time. All read the rollups, so a
 * report over weeks costs about as much as one over an hour.
 */
export async function sloReport(runner: QueryRunner, options: SloReportOptions): Promise<SloReportData> {
  const fromMs = Math.floor(options.fromMs / MINUTE_MS) * MINUTE_MS;
  const toMs = Math.ceil(options.toMs / MINUTE_MS) * MINUTE_MS;
  if (!(toMs > fromMs)) throw new JobInputError('--to must be after --from');
  const worst = options.worst ?? 5;
  const stepMs = seriesStepMs(toMs - fromMs);
  const plan = planMetricQuery('ssf.span.duration', fromMs, toMs, stepMs);
  const p99 = metricQuerySql({ name: 'ssf.span.duration', agg: 'p99', tags: [], groupBy: ['service'], lastIsStatus: false, plan }, options.tenant, (t) =>
    runner.table(t),
  );

  const [slos, stats, points] = await Promise.all([
    computeSlos(runner, options.tenant, { to: toMs, objective: options.objective, windows: [{ name: 'report', ms: toMs - fromMs }] }),
    serviceStats(runner, options.tenant, { from: fromMs, to: toMs, operations: 10_000 }),
    runner.rows<MetricPointRow>(p99.sql, options.tenant, p99.params),
  ]);

  const indicator = new Map(slos.services.map((s) => [s.service, s.windows[0]]));
  const services: ServiceReport[] = stats.map((s) => {
    const sli = indicator.get(s.service);
    const counted =
      sli && sli.total > 0 ? { sli: 'indicator' as const, total: sli.total, bad: sli.bad } : { sli: 'spans' as const, total: s.spans, bad: s.errors };
    const endpoints = s.operations.map(endpoint);
    return {
      service: s.service,
      ...counted,
      ...budgetOf(counted.total, counted.bad, options.objective),
      p50_ms: s.p50_ms,
      p99_ms: s.p99_ms,
      worst_by_error_rate: endpoints
        .filter((e) => e.errors > 0)
        .sort((a, b) => b.error_rate - a.error_rate || b.errors - a.errors || (a.name < b.name ? -1 : 1))
        .slice(0, worst),
      worst_by_p99: [...endpoints].sort((a, b) => b.p99_ms - a.p99_ms || (a.name < b.name ? -1 : 1)).slice(0, worst),
    };
  });

  return {
    tenant: options.tenant,
    from: isoUtc(fromMs),
    to: isoUtc(toMs),
    objective: options.objective,
    services,
    p99_series: {
      step_ms: stepMs,
      series: rowsToSeries(points, ['service']).map((s) => ({ service: s.tags['service'] ?? '', points: s.points })),
    },
  };
}

const pct = (v: number | null, digits = 3): string => (v === null ? '-' : `${(v * 100).toFixed(digits)}%`);
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : '-');

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The report as plain text (a terminal, an e-mail). */
export function sloReportText(r: SloReportData): string {
  const out: string[] = [`SLO report, tenant ${r.tenant}: ${r.from} to ${r.to}, objective ${pct(r.objective, 2)}`, ''];
  if (r.services.length === 0) return [...out, 'No spans in this range.', ''].join('\n');
  out.push(
    ...table(
      ['service', 'sli', 'requests', 'bad', 'availability', 'p50', 'p99', 'budget used', 'budget left', 'burn rate', 'objective'],
      r.services.map((s) => [
        s.service,
        s.sli,
        String(s.total),
        String(s.bad),
        pct(s.availability),
        ms(s.p50_ms),
        ms(s.p99_ms),
        pct(s.budget_consumed, 1),
        pct(s.budget_remaining, 1),
        s.burn_rate === null ? '-' : s.burn_rate.toFixed(2),
        s.meets_objective === null ? '-' : s.meets_objective ? 'met' : 'MISSED',
      ]),
    ),
  );
  for (const s of r.services) {
    out.push('', `${s.service}: worst endpoints`);
    if (s.worst_by_error_rate.length > 0) {
      out.push('  by error rate:');
      for (const e of s.worst_by_error_rate) out.push(`    ${e.name}  ${pct(e.error_rate, 2)} (${e.errors}/${e.spans})  p99 ${ms(e.p99_ms)}`);
    } else {
      out.push('  by error rate: no errors');
    }
    out.push('  by p99:');
    for (const e of s.worst_by_p99) out.push(`    ${e.name}  p99 ${ms(e.p99_ms)}  (${e.spans} spans, ${pct(e.error_rate, 2)} errors)`);
  }
  out.push('');
  return out.join('\n');
}
