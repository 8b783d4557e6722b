import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNum, seriesColor } from './format.js';

export interface ChartSeries {
  label: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
}

/**
 * Series of `[ms, value]` points on one shared x axis (seconds), gaps as
 * null. With the step, every bucket between the first and the last is on
 * the axis, so a bucket without data breaks the line instead of joining
 * its neighbours.
 */
export function align(series: readonly ChartSeries[], stepMs?: number): uPlot.AlignedData {
  let xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const first = xs[0];
  const last = xs[xs.length - 1];
  if (stepMs && first !== undefined && last !== undefined && (last - first) / stepMs < 20_000) {
    const all = new Set(xs);
    for (let t = first; t <= last; t += stepMs) all.add(t);
    xs = [...all].sort((a, b) => a - b);
  }
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const y: Array<number | null> = new Array<number | null>(xs.length).fill(null);
    for (const [x, v] of s.points) y[at.get(x) as number] = v;
    return y;
  });
  return [xs.map((x) => x / 1000), ...ys] as uPlot.AlignedData;
}

/**
 * A line chart (uPlot: canvas, ~50 KB, draws 100k points in a few ms),
 * with a legend that shows the values under the cursor. Dragging across it
 * calls `onZoom` with the range in ms.
 */
export function LineChart({
  series,
  height = 260,
  unit = '',
  label,
  onZoom,
  range,
  stepMs,
}: {
  series: readonly ChartSeries[];
  height?: number;
  unit?: string;
  label: string;
  onZoom?: (fromMs: number, toMs: number) => void;
  range?: readonly [number, number] | undefined;
  stepMs?: number | undefined;
}): JSX.Element {
  const box = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    const axisStroke = dark ? '#9aa4b2' : '#4b5563';
    const grid = { stroke: dark ? '#2a3038' : '#e5e7eb', width: 1 };
    const fmt = (v: number | null): string => (v === null ? '–' : `${fmtNum(v)}${unit}`);
    const opts: uPlot.Options = {
      width: el.clientWidth || 800,
      height,
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? seriesColor(i),
          width: 1.5,
          value: (_u: uPlot, v: number | null) => fmt(v),
          spanGaps: false,
        })),
      ],
      axes: [
        { stroke: axisStroke, grid, ticks: grid },
        { stroke: axisStroke, grid, ticks: grid, size: 60, values: (_u, vals) => vals.map((v) => fmtNum(v)) },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [
          (u) => {
            if (!onZoom || u.select.width < 3) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            onZoom(Math.floor(a * 1000), Math.ceil(b * 1000));
          },
        ],
      },
      scales: { x: range ? { time: true, range: [range[0] / 1000, range[1] / 1000] } : { time: true } },
    };
    const plot = new uPlot(opts, align(series, stepMs), el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [series, height, unit, range?.[0], range?.[1], stepMs]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
