/** Metrics kept in memory and exposed in the Prometheus text format (the self-hosted server's /metrics). */
import type { MetricLabels, Metrics } from '../ports/metrics.ts';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const key = (labels: MetricLabels = {}): string =>
  Object.keys(labels)
    .sort()
    .map((name) => `${name}="${labels[name]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

export class PrometheusMetrics implements Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly gauges = new Map<string, Map<string, number>>();
  private readonly histograms = new Map<string, Map<string, Histogram>>();
  /** Gauges computed when scraped (queue depth, index age). */
  private readonly collectors: (() => void)[] = [];

  count(name: string, labels?: MetricLabels, value = 1): void {
    const series = this.series(this.counters, name);
    series.set(key(labels), (series.get(key(labels)) ?? 0) + value);
  }

  gauge(name: string, value: number, labels?: MetricLabels): void {
    this.series(this.gauges, name).set(key(labels), value);
  }

  observe(name: string, value: number, labels?: MetricLabels): void {
    const series = this.series(this.histograms, name);
    const histogram = series.get(key(labels)) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    BUCKETS.forEach((bound, index) => {
      if (value <= bound) histogram.counts[index]!++;
    });
    histogram.sum += value;
    histogram.count++;
    series.set(key(labels), histogram);
  }

  onScrape(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** The text exposition format, version 0.0.4. */
  render(): string {
    for (const collect of this.collectors) collect();
    const lines: string[] = [];
    const braces = (labels: string, extra = ''): string => {
      const all = [labels, extra].filter(Boolean).join(',');
      return all ? `{${all}}` : '';
    };
    for (const [name, series] of this.counters) {
      lines.push(`# TYPE ${name} counter`);
      for (const [labels, value] of series) lines.push(`${name}${braces(labels)} ${value}`);
    }
    for (const [name, series] of this.gauges) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [labels, value] of series) lines.push(`${name}${braces(labels)} ${value}`);
    }
    for (const [name, series] of this.histograms) {
      lines.push(`# TYPE ${name} histogram`);
      for (const [labels, histogram] of series) {
        BUCKETS.forEach((bound, index) => lines.push(`${name}_bucket${braces(labels, `le="${bound}"`)} ${histogram.counts[index]}`));
        lines.push(`${name}_bucket${braces(labels, 'le="+Inf"')} ${histogram.count}`);
        lines.push(`${name}_sum${braces(labels)} ${histogram.sum}`);
        lines.push(`${name}_count${braces(labels)} ${histogram.count}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private series<T>(family: Map<string, Map<string, T>>, name: string): Map<string, T> {
    let series = family.get(name);
    if (!series) {
      series = new Map();
      family.set(name, series);
    }
    return series;
  }
}
