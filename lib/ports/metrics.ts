/**
 * The metrics port: counters, gauges and observations with labels. The self-hosted server keeps
 * them for Prometheus (`/metrics`); on Lambda they are written as CloudWatch embedded-metric-format
 * log lines.
 */
export type MetricLabels = Readonly<Record<string, string>>;

export interface Metrics {
  count(name: string, labels?: MetricLabels, value?: number): void;
  gauge(name: string, value: number, labels?: MetricLabels): void;
  /** A measured duration or size (seconds, bytes): count, sum and buckets. */
  observe(name: string, value: number, labels?: MetricLabels): void;
}

export const noMetrics: Metrics = { count() {}, gauge() {}, observe() {} };
