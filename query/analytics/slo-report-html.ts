import type { ServiceReport, SloReportData } from './slo-report.js';

/**
 * The colours the charts draw with, each used by nothing else on the page
 * (text, grid and tables are greys), so a screenshot shows where each
 * chart's marks landed.
 */
export const COLOURS = {
  met: '#2e9d5b',
  missed: '#d64541',
  objective: '#7b2cbf',
  budgetLeft: '#3a7bd5',
  budgetOverspent: '#f39c12',
  series: ['#1f77b4', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#0b6e4f', '#9467bd'],
} as const;

/**
 * Where the charts sit on the page, in CSS pixels: fixed, so the page looks
 * the same in every browser and a screenshot test knows where to look.
 */
export const LAYOUT = {
  pageWidth: 1200,
  left: 50,
  chartWidth: 1100,
  chartHeight: 300,
  /** Top of each chart's SVG. */
  availabilityTop: 190,
  p99Top: 590,
  budgetTop: 990,
  /** Top of the tables below the charts. */
  tablesTop: 1330,
  plot: { left: 80, right: 30, top: 20, bottom: 50 },
} as const;

const PLOT_W = LAYOUT.chartWidth - LAYOUT.plot.left - LAYOUT.plot.right;
const PLOT_H = LAYOUT.chartHeight - LAYOUT.plot.top - LAYOUT.plot.bottom;
const PLOT_BOTTOM = LAYOUT.plot.top + PLOT_H;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
  colour: string;
  service: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const fmt = (v: number): string => String(Math.round(v * 10) / 10);
const pct = (v: number | null, digits: number): string => (v === null ? '-' : `${(v * 100).toFixed(digits)}%`);

/** The availability bars and the objective line, in SVG coordinates. */
export function availabilityGeometry(r: SloReportData): { bars: Rect[]; objectiveY: number; lo: number } {
  const values = r.services.map((s) => s.availability).filter((v): v is number => v !== null);
  const lowest = Math.min(r.objective, ...values);
  // The axis starts a little below the lowest value (availability lives near 100 %).
  const lo = Math.max(0, lowest - Math.max((1 - lowest) * 0.25, 0.0005));
  const y = (v: number): number => LAYOUT.plot.top + ((1 - v) / (1 - lo)) * PLOT_H;
  const slot = PLOT_W / Math.max(r.services.length, 1);
  const width = Math.min(80, slot * 0.6);
  const bars: Rect[] = [];
  r.services.forEach((s, i) => {
    if (s.availability === null) return;
    const top = y(s.availability);
    bars.push({
      x: LAYOUT.plot.left + i * slot + (slot - width) / 2,
      y: top,
      width,
      height: Math.max(PLOT_BOTTOM - top, 1),
      colour: s.meets_objective ? COLOURS.met : COLOURS.missed,
      service: s.service,
    });
  });
  return { bars, objectiveY: y(r.objective), lo };
}

/**
 * The p99 lines: per service, its points in SVG coordinates. The y axis is
 * logarithmic: services' latencies differ by orders of magnitude (a cache
 * at 1 ms, a payment at 300 ms), and each line should keep its shape.
 */
export function p99Geometry(r: SloReportData): {
  lines: Array<{ service: string; colour: string; points: Array<[number, number]> }>;
  lo: number;
  hi: number;
  y: (ms: number) => number;
} {
  const from = Date.parse(r.from);
  const to = Date.parse(r.to);
  const values = r.p99_series.series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, lo * 10)));
  const x = (t: number): number => LAYOUT.plot.left + ((t + r.p99_series.step_ms / 2 - from) / (to - from)) * PLOT_W;
  const y = (v: number): number => PLOT_BOTTOM - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_H;
  return {
    lo,
    hi,
    y,
    lines: r.p99_series.series.map((s, i) => ({
      service: s.service,
      colour: COLOURS.series[i % COLOURS.series.length] as string,
      points: s.points.map(([t, v]) => [x(t), y(v)]),
    })),
  };
}

/** The error-budget bars: from the zero line to what is left (clamped to ±100 %). */
export function budgetGeometry(r: SloReportData): { bars: Rect[]; zeroX: number } {
  const zeroX = LAYOUT.plot.left + PLOT_W / 2;
  const slot = PLOT_H / Math.max(r.services.length, 1);
  const height = Math.min(36, slot * 0.6);
  const bars: Rect[] = [];
  r.services.forEach((s, i) => {
    if (s.budget_remaining === null) return;
    const left = Math.max(-1, Math.min(1, s.budget_remaining));
    const end = zeroX + left * (PLOT_W / 2);
    bars.push({
      x: Math.min(zeroX, end),
      y: LAYOUT.plot.top + i * slot + (slot - height) / 2,
      width: Math.max(Math.abs(end - zeroX), 1),
      height,
      colour: left >= 0 ? COLOURS.budgetLeft : COLOURS.budgetOverspent,
      service: s.service,
    });
  });
  return { bars, zeroX };
}

function svg(body: string[]): string {
  return `<svg width="${LAYOUT.chartWidth}" height="${LAYOUT.chartHeight}" viewBox="0 0 ${LAYOUT.chartWidth} ${LAYOUT.chartHeight}">${body.join('')}</svg>`;
}

const text = (x: number, y: number, content: string, anchor = 'middle', extra = ''): string =>
  `<text x="${fmt(x)}" y="${fmt(y)}" text-anchor="${anchor}" ${extra}>${escapeHtml(content)}</text>`;

function frame(): string {
  return `<rect x="${LAYOUT.plot.left}" y="${LAYOUT.plot.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#cccccc"/>`;
}

function availabilityChart(r: SloReportData): string {
  const g = availabilityGeometry(r);
  const parts = [frame()];
  for (let k = 0; k <= 4; k++) {
    const v = g.lo + ((1 - g.lo) * k) / 4;
    const y = LAYOUT.plot.top + ((1 - v) / (1 - g.lo)) * PLOT_H;
    parts.push(
      `<line x1="${LAYOUT.plot.left}" x2="${LAYOUT.plot.left + PLOT_W}" y1="${fmt(y)}" y2="${fmt(y)}" stroke="#eeeeee"/>`,
      text(LAYOUT.plot.left - 8, y + 4, pct(v, 2), 'end'),
    );
  }
  for (const b of g.bars) {
    const s = r.services.find((x) => x.service === b.service) as ServiceReport;
    parts.push(
      `<rect x="${fmt(b.x)}" y="${fmt(b.y)}" width="${fmt(b.width)}" height="${fmt(b.height)}" fill="${b.colour}" shape-rendering="crispEdges"><title>${escapeHtml(`${s.service}: ${pct(s.availability, 3)}`)}</title></rect>`,
      text(b.x + b.width / 2, PLOT_BOTTOM + 18, s.service),
      text(b.x + b.width / 2, PLOT_BOTTOM + 36, pct(s.availability, 3), 'middle', 'class="small"'),
    );
  }
  parts.push(
    `<line x1="${LAYOUT.plot.left}" x2="${LAYOUT.plot.left + PLOT_W}" y1="${fmt(g.objectiveY)}" y2="${fmt(g.objectiveY)}" stroke="${COLOURS.objective}" stroke-width="3" stroke-dasharray="12 6" shape-rendering="crispEdges"/>`,
    text(LAYOUT.plot.left + PLOT_W - 4, g.objectiveY - 6, `objective ${pct(r.objective, 2)}`, 'end'),
  );
  return svg(parts);
}

function p99Chart(r: SloReportData): string {
  const g = p99Geometry(r);
  const parts = [frame()];
  for (let v = g.lo; v <= g.hi * 1.0001; v *= 10) {
    const y = g.y(v);
    parts.push(
      `<line x1="${LAYOUT.plot.left}" x2="${LAYOUT.plot.left + PLOT_W}" y1="${fmt(y)}" y2="${fmt(y)}" stroke="#eeeeee"/>`,
      text(LAYOUT.plot.left - 8, y + 4, `${fmt(v)} ms`, 'end'),
    );
  }
  const from = Date.parse(r.from);
  const to = Date.parse(r.to);
  for (let k = 0; k <= 4; k++) {
    const t = from + ((to - from) * k) / 4;
    parts.push(
      text(
        LAYOUT.plot.left + (PLOT_W * k) / 4,
        PLOT_BOTTOM + 18,
        new Date(t).toISOString().slice(5, 16).replace('T', ' '),
        k === 0 ? 'start' : k === 4 ? 'end' : 'middle',
      ),
    );
  }
  g.lines.forEach((l, i) => {
    const points = l.points.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${l.colour}" stroke-width="3" stroke-linejoin="round"/>`);
    for (const [x, y] of l.points) parts.push(`<circle cx="${fmt(x)}" cy="${fmt(y)}" r="4" fill="${l.colour}"/>`);
    // The legend, below the plot.
    const lx = LAYOUT.plot.left + i * 150;
    parts.push(`<rect x="${lx}" y="${PLOT_BOTTOM + 30}" width="14" height="4" fill="${l.colour}"/>`, text(lx + 20, PLOT_BOTTOM + 36, l.service, 'start'));
  });
  return svg(parts);
}

function budgetChart(r: SloReportData): string {
  const g = budgetGeometry(r);
  const parts = [frame()];
  for (const v of [-1, -0.5, 0, 0.5, 1]) {
    const x = g.zeroX + v * (PLOT_W / 2);
    parts.push(
      `<line x1="${fmt(x)}" x2="${fmt(x)}" y1="${LAYOUT.plot.top}" y2="${PLOT_BOTTOM}" stroke="${v === 0 ? '#999999' : '#eeeeee'}"/>`,
      text(x, PLOT_BOTTOM + 18, `${v * 100}%`),
    );
  }
  for (const b of g.bars) {
    const s = r.services.find((x) => x.service === b.service) as ServiceReport;
    parts.push(
      `<rect x="${fmt(b.x)}" y="${fmt(b.y)}" width="${fmt(b.width)}" height="${fmt(b.height)}" fill="${b.colour}" shape-rendering="crispEdges"><title>${escapeHtml(`${s.service}: ${pct(s.budget_remaining, 1)} of the error budget left`)}</title></rect>`,
      text(LAYOUT.plot.left - 8, b.y + b.height / 2 + 4, s.service, 'end'),
      // The figure on the other side of the zero line, where it never covers the bar nor leaves the chart.
      b.colour === COLOURS.budgetLeft
        ? text(g.zeroX - 6, b.y + b.height / 2 + 4, pct(s.budget_remaining, 1), 'end', 'class="small"')
        : text(g.zeroX + 6, b.y + b.height / 2 + 4, pct(s.budget_remaining, 1), 'start', 'class="small"'),
    );
  }
  return svg(parts);
}

function tables(r: SloReportData): string {
  const rows = r.services.map(
    (s) =>
      `<tr><td>${escapeHtml(s.service)}</td><td>${s.sli}</td><td>${s.total}</td><td>${s.bad}</td><td>${pct(s.availability, 3)}</td><td>${fmt(s.p50_ms)} ms</td><td>${fmt(s.p99_ms)} ms</td><td>${pct(s.budget_consumed, 1)}</td><td>${pct(s.budget_remaining, 1)}</td><td>${s.burn_rate === null ? '-' : s.burn_rate.toFixed(2)}</td></tr>`,
  );
  const worst = r.services.map((s) => {
    const byErrors =
      s.worst_by_error_rate.map((e) => `<li>${escapeHtml(e.name)}: ${pct(e.error_rate, 2)} (${e.errors}/${e.spans})</li>`).join('') || '<li>no errors</li>';
    const byP99 = s.worst_by_p99.map((e) => `<li>${escapeHtml(e.name)}: p99 ${fmt(e.p99_ms)} ms</li>`).join('');
    return `<div class="worst"><h3>${escapeHtml(s.service)}</h3><p>By error rate</p><ol>${byErrors}</ol><p>By p99</p><ol>${byP99}</ol></div>`;
  });
  return `<table><thead><tr><th>service</th><th>SLI</th><th>requests</th><th>bad</th><th>availability</th><th>p50</th><th>p99</th><th>budget used</th><th>budget left</th><th>burn rate</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<h2>Worst endpoints</h2>${worst.join('')}`;
}

const STYLE = `
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222222; background: #ffffff; }
header { position: absolute; left: ${LAYOUT.left}px; top: 20px; width: ${LAYOUT.chartWidth}px; height: 120px; overflow: hidden; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 0; height: 30px; }
.chart { position: absolute; left: ${LAYOUT.left}px; width: ${LAYOUT.chartWidth}px; }
.chart svg { display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #444444; }
svg text.small { font-size: 11px; fill: #666666; }
.tables { position: absolute; left: ${LAYOUT.left}px; top: ${LAYOUT.tablesTop}px; width: ${LAYOUT.chartWidth}px; padding-bottom: 40px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 24px; }
th, td { border-bottom: 1px solid #dddddd; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.worst { display: inline-block; vertical-align: top; width: 340px; margin-right: 20px; }
.worst h3 { margin: 12px 0 4px; font-size: 15px; }
.worst p { margin: 4px 0; color: #555555; }
.muted { color: #555555; }
`;

/**
 * The report as one self-contained HTML page: inline CSS and inline SVG
 * charts drawn here (availability per service against the objective, p99
 * over time per service, error budget left), no script, no external font or
 * file, so it can be mailed or archived as it is.
 */
export function sloReportHtml(r: SloReportData): string {
  const summary = `${r.services.length} service${r.services.length === 1 ? '' : 's'}, ${r.services.filter((s) => s.meets_objective === false).length} below the objective`;
  const head = `<header><h1>SLO report: ${escapeHtml(r.tenant)}</h1><div class="muted">${escapeHtml(r.from)} to ${escapeHtml(r.to)} &middot; objective ${pct(r.objective, 2)} &middot; ${summary}</div></header>`;
  if (r.services.length === 0) {
    return page(r, `${head}<div class="tables" style="top: 190px"><p>No spans in this range.</p></div>`);
  }
  const chart = (top: number, title: string, body: string): string => `<section class="chart" style="top: ${top - 30}px"><h2>${title}</h2>${body}</section>`;
  return page(
    r,
    [
      head,
      chart(LAYOUT.availabilityTop, 'Availability per service', availabilityChart(r)),
      chart(LAYOUT.p99Top, 'p99 latency over time (ssf.span.duration, log scale)', p99Chart(r)),
      chart(LAYOUT.budgetTop, 'Error budget left', budgetChart(r)),
      `<div class="tables">${tables(r)}</div>`,
    ].join('\n'),
  );
}

function page(r: SloReportData, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SLO report ${escapeHtml(r.tenant)} ${escapeHtml(r.from)} to ${escapeHtml(r.to)}</title>
<style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}
