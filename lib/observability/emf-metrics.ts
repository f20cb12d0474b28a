/**
 * Metrics as CloudWatch embedded metric format lines on stdout: Lambda's logs become metrics
 * without any API call (and without credentials for one).
 */
import type { MetricLabels, Metrics } from '../ports/metrics.ts';

export class EmfMetrics implements Metrics {
  constructor(
    private readonly namespace: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  count(name: string, labels: MetricLabels = {}, value = 1): void {
    this.emit(name, value, 'Count', labels);
  }

  gauge(name: string, value: number, labels: MetricLabels = {}): void {
    this.emit(name, value, 'None', labels);
  }

  observe(name: string, value: number, labels: MetricLabels = {}): void {
    this.emit(name, value, name.endsWith('_seconds') ? 'Seconds' : name.endsWith('_bytes') ? 'Bytes' : 'None', labels);
  }

  private emit(name: string, value: number, unit: string, labels: MetricLabels): void {
    this.write(
      JSON.stringify({
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [{ Namespace: this.namespace, Dimensions: [Object.keys(labels)], Metrics: [{ Name: name, Unit: unit }] }],
        },
        ...labels,
        [name]: value,
      }),
    );
  }
}
