/**
 * The drop prefix: `.dcos` objects put under `drop/` in the registry's storage by any client (the
 * local drop folder, `aws s3 cp`, `s3cmd put`, `rclone copyto`, a MinIO console) are ingested. S3
 * on AWS announces them with an event; a self-hosted store (MinIO, the filesystem) may not, so the
 * self-hosted server lists the prefix on a timer and hands each bundle to ingestion.
 *
 * Several instances on one bucket each list and each trigger: that is safe, because ingestion
 * claims the upload record of a drop (its id is derived from the key) by compare-and-swap, so one
 * attempt wins and the others find it busy or ended; ingestion deletes the bundle once its outcome
 * is recorded, so the next listing no longer sees it (test/integration/embedded-operations.test.ts).
 * An object appears in storage whole (a PUT or a completed multipart upload), so unlike files in
 * the drop folder there is no copy in progress to wait out.
 */
import { invalidKeyReason, type ObjectStore } from '../ports/object-store.ts';
import { DROP_PREFIX } from '../registry/layout.ts';
import type { Logger } from '../support/logger.ts';

/** Bundles taken per scan: the rest wait for the next one (ingest runs a couple at a time anyway). */
const MAX_PER_SCAN = 100;

export class DropPrefixScanner {
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;
  /** Names already reported as unusable: said once per process, not on every scan. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly ingest: (key: string) => void,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.scan(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One listing of the prefix; returns the keys handed to ingestion. */
  async scan(): Promise<string[]> {
    if (this.scanning) return [];
    this.scanning = true;
    const taken: string[] = [];
    try {
      let token: string | undefined;
      do {
        const page = await this.store.list(DROP_PREFIX, token ? { token } : {});
        for (const object of page.objects) {
          if (!object.key.endsWith('.dcos') || taken.length >= MAX_PER_SCAN) continue;
          // A name outside the registry's key alphabet cannot be read through it (nor taken away):
          // said once, and never counted against the bundles a scan takes.
          const unusable = invalidKeyReason(object.key);
          if (unusable) {
            if (!this.reported.has(object.key)) {
              this.reported.add(object.key);
              this.log.warn('a bundle under the drop prefix has a name the registry cannot use: rename it (letters, digits, space and ._:=@+,()~-)', { key: object.key, reason: unusable });
            }
            continue;
          }
          taken.push(object.key);
          this.ingest(object.key);
        }
        token = taken.length >= MAX_PER_SCAN ? undefined : page.nextToken;
      } while (token);
      if (taken.length > 0) this.log.info('bundles found under the drop prefix', { count: taken.length });
    } catch (error) {
      this.log.error('drop prefix scan failed', { error });
    } finally {
      this.scanning = false;
    }
    return taken;
  }
}
