import type { SloWindow } from './slo-windows.js';

/**
 * A multi-window burn-rate alert (The Site Reliability Workbook, "Alerting
 * on SLOs", table 5-8): it fires when the burn rate over both the long and
 * the short window is above the threshold. The long window makes it
 * significant (`budget` of a 30-day error budget spent), the short one makes
 * it stop soon after the burning stops.
 */
export interface BurnAlertRule {
  severity: 'page' | 'ticket';
  long: SloWindow;
  short: SloWindow;
  threshold: number;
  /** Fraction of a 30-day budget spent over the long window at the threshold. */
  budget: number;
}

const w = (name: string, ms: number): SloWindow => ({ name, ms });
const H = 3_600_000;

/** The workbook's recommended pairs for a 30-day SLO. */
export const BURN_ALERT_RULES: readonly BurnAlertRule[] = [
  { severity: 'page', long: w('1h', H), short: w('5m', 5 * 60_000), threshold: 14.4, budget: 0.02 },
  { severity: 'page', long: w('6h', 6 * H), short: w('30m', 30 * 60_000), threshold: 6, budget: 0.05 },
  { severity: 'ticket', long: w('24h', 24 * H), short: w('2h', 2 * H), threshold: 3, budget: 0.1 },
  { severity: 'ticket', long: w('3d', 72 * H), short: w('6h', 6 * H), threshold: 1, budget: 0.1 },
];

/** One rule evaluated for one service. */
export interface BurnAlert {
  service: string;
  severity: 'page' | 'ticket';
  long_window: string;
  short_window: string;
  threshold: number;
  /** Null when the window saw no indicator span. */
  long_burn_rate: number | null;
  short_burn_rate: number | null;
  /** Both burn rates above the threshold. */
  firing: boolean;
}

/** Every rule for one service, given its burn rate per window length (ms). */
export function evaluateBurnAlerts(service: string, burnByWindowMs: ReadonlyMap<number, number | null>): BurnAlert[] {
  return BURN_ALERT_RULES.map((rule) => {
    const long = burnByWindowMs.get(rule.long.ms) ?? null;
    const short = burnByWindowMs.get(rule.short.ms) ?? null;
    return {
      service,
      severity: rule.severity,
      long_window: rule.long.name,
      short_window: rule.short.name,
      threshold: rule.threshold,
      long_burn_rate: long,
      short_burn_rate: short,
      firing: long !== null && short !== null && long > rule.threshold && short > rule.threshold,
    };
  });
}
