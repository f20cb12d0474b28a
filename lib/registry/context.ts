/** What the registry's use cases run against: ports, clock, settings and a logger. */
import type { KeyObject } from 'node:crypto';
import type { JobQueue } from '../ports/job-queue.ts';
import type { Metrics } from '../ports/metrics.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Logger } from '../support/logger.ts';

export interface RegistrySettings {
  /** Base of every URL written into the index, e.g. `https://registry.example.com` (no trailing slash). */
  readonly publicBaseUrl: string;
  /** `host[:port]` that image references in the index name; derived from publicBaseUrl when absent. */
  readonly dockerHost?: string;
  /** Responses larger than this are redirected to a presigned URL when the store can presign. */
  readonly maxInlineResponseBytes: number;
  /**
   * The host sends response bodies as they are read (the embedded server) instead of gathering
   * them into one (Lambda behind API Gateway): then nothing is redirected for its size.
   */
  readonly streamResponses: boolean;
  /** Lifetime of presigned download URLs, in seconds. */
  readonly downloadUrlLifetimeSeconds: number;
  /** Lifetime of presigned upload URLs, in seconds. */
  readonly uploadUrlLifetimeSeconds: number;
  /** Largest bundle accepted for upload, in bytes. */
  readonly maxBundleBytes: number;
  /** Ed25519 keys a bundle must be signed by (lib/signing); absent: signatures are not required. */
  readonly trustedKeys?: readonly KeyObject[];
  /** Bundles larger than this are uploaded in parts, where the store supports it. */
  readonly multipartThresholdBytes: number;
  /** Size of each part (at least 5 MiB on S3; grown so that no upload needs more than 2,000). */
  readonly multipartPartBytes: number;
  /** How long content stays unreferenced before garbage collection deletes it, in seconds. */
  readonly gcGraceSeconds: number;
  /**
   * Work (an ingest, a queued publish or removal, a collection) that shows no sign of life for
   * this long is taken for dead: the reconciler drives its record on, leases expire. Live work
   * refreshes its record or lease four times within it.
   */
  readonly staleAfterSeconds: number;
  /** Ingest attempts of one bundle, and deliveries of one job, before an internal failure is final. */
  readonly maxAttempts: number;
  /** How long records of ended uploads are kept (the `describe` of an upload), in seconds. */
  readonly uploadRecordRetentionSeconds: number;
  /** How often a long-polling request looks at the record it waits on (record-watch.ts), in ms. */
  readonly recordPollMs: number;
}

export const DEFAULT_SETTINGS: Omit<RegistrySettings, 'publicBaseUrl'> = {
  maxInlineResponseBytes: 4 * 1024 * 1024,
  streamResponses: false,
  downloadUrlLifetimeSeconds: 6 * 60 * 60,
  uploadUrlLifetimeSeconds: 60 * 60,
  // One PUT takes at most 5 GiB on S3; parts take a bundle to the 5 TiB object limit.
  maxBundleBytes: 5 * 1024 * 1024 * 1024 * 1024,
  multipartThresholdBytes: 256 * 1024 * 1024,
  multipartPartBytes: 64 * 1024 * 1024,
  // Files no package uses wait this long after their last write; reuse is covered by leases.
  gcGraceSeconds: 60 * 60,
  // Live work heartbeats every 30 s; two minutes of silence means it died (a killed process, a
  // Lambda that timed out).
  staleAfterSeconds: 120,
  maxAttempts: 3,
  uploadRecordRetentionSeconds: 30 * 24 * 60 * 60,
  // A HEAD of the record four times a second while a client waits (at most 20 s a request).
  recordPollMs: 250,
};

export interface RegistryContext {
  readonly store: ObjectStore;
  readonly queue: JobQueue;
  readonly settings: RegistrySettings;
  readonly log: Logger;
  readonly now: () => Date;
  /** Where counts and durations go (Prometheus self-hosted, CloudWatch EMF on Lambda); none when absent. */
  readonly metrics?: Metrics;
  /**
   * Starts the ingest of a stored bundle elsewhere (the embedded server's ingest runner). Without
   * it the reconciler ingests a bundle whose event was lost in its own invocation.
   */
  readonly triggerIngest?: (bundleKey: string) => void | Promise<void>;
}

/** The Docker host of the index: configured, or the public host (port 443 written out for https). */
export function dockerHostOf(settings: Pick<RegistrySettings, 'publicBaseUrl' | 'dockerHost'>): string {
  if (settings.dockerHost) return settings.dockerHost;
  const url = new URL(settings.publicBaseUrl);
  return url.port ? url.host : `${url.hostname}:${url.protocol === 'https:' ? 443 : 80}`;
}
