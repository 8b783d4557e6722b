/**
 * A small Prometheus registry for the processes' /metrics endpoints: counters,
 * gauges and histograms with labels, rendered in the text exposition format.
 * No dependency; label values are escaped.
 */
type Labels = Record<string, string>;

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((n) => labels[n] ?? '').join('\u0000');
}

function renderLabels(names: readonly string[], key: string, extra = ''): string {
  const values = key.split('\u0000');
  const parts = names.map((n, i) => `${n}="${(values[i] ?? '').replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  /** Series whose total is read when rendered (`track`), e.g. the process's CPU seconds. */
  private readonly tracked = new Map<string, () => number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  /** An incrementer for fixed labels, for hot paths (no key built per call). */
  bind(labels: Labels): (by?: number) => void {
    const k = labelKey(this.labelNames, labels);
    if (!this.values.has(k)) this.values.set(k, 0);
    return (by = 1) => {
      this.values.set(k, (this.values.get(k) ?? 0) + by);
    };
  }

  get(labels: Labels = {}): number {
    const k = labelKey(this.labelNames, labels);
    return this.tracked.get(k)?.() ?? this.values.get(k) ?? 0;
  }

  /** A series whose total something else keeps (it only grows): `read` gives it when rendered. */
  track(read: () => number, labels: Labels = {}): void {
    this.tracked.set(labelKey(this.labelNames, labels), read);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${renderLabels(this.labelNames, k)} ${v}`);
    for (const [k, read] of this.tracked) lines.push(`${this.name}${renderLabels(this.labelNames, k)} ${read()}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  private readonly values = new Map<string, number | (() => number)>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  set(value: number | (() => number), labels: Labels = {}): void {
    this.values.set(labelKey(this.labelNames, labels), value);
  }

  get(labels: Labels = {}): number {
    const v = this.values.get(labelKey(this.labelNames, labels));
    return typeof v === 'function' ? v() : (v ?? 0);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [k, v] of this.values) lines.push(`${this.name}${renderLabels(this.labelNames, k)} ${typeof v === 'function' ? v() : v}`);
    return lines.join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
    readonly labelNames: readonly string[] = [],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(this.labelNames, labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }

  count(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }

  sum(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.sum ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      for (const [i, b] of this.buckets.entries()) lines.push(`${this.name}_bucket${renderLabels(this.labelNames, k, `le="${b}"`)} ${s.counts[i] ?? 0}`);
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, k, 'le="+Inf"')} ${s.count}`);
      lines.push(`${this.name}_sum${renderLabels(this.labelNames, k)} ${s.sum}`);
      lines.push(`${this.name}_count${renderLabels(this.labelNames, k)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  private readonly adopted: Registry[] = [];

  /** Renders `other` with this one (all-in-one mode: one /metrics for every part). */
  adopt(other: Registry): void {
    this.adopted.push(other);
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, buckets, labelNames));
  }

  private add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }

  render(): string {
    return `${this.metrics.map((m) => m.render()).join('\n')}\n${this.adopted.map((r) => r.render()).join('')}`;
  }
}
