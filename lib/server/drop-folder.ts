/**
 * The drop folder: `.dcos` files copied into `<data>/drop/` are stored under `drop/` and ingested,
 * for operators who move bundles around on disks rather than over HTTP. A file is taken once its
 * size has stopped changing between two scans (so a copy in progress is left alone).
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '../ports/object-store.ts';
import { DROP_PREFIX } from '../registry/layout.ts';
import type { Logger } from '../support/logger.ts';
import { putBundle } from '../registry/bundle-storage.ts';

export function dropKeyFor(fileName: string): string {
  const safe = fileName.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '');
  return `${DROP_PREFIX}${safe || 'bundle.dcos'}`;
}

export class DropFolder {
  private timer: NodeJS.Timeout | undefined;
  private readonly sizes = new Map<string, number>();
  private scanning = false;

  constructor(
    private readonly directory: string,
    private readonly store: ObjectStore,
    private readonly ingest: (key: string) => void,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  async start(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    this.timer = setInterval(() => void this.scan(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async scan(): Promise<void> {
    if (this.scanning) return;
    this.scanning = true;
    try {
      for (const name of await readdir(this.directory)) {
        if (!name.endsWith('.dcos')) continue;
        const path = join(this.directory, name);
        const { size } = await stat(path);
        if (this.sizes.get(name) !== size) {
          this.sizes.set(name, size);
          continue;
        }
        this.sizes.delete(name);
        const key = dropKeyFor(name);
        await putBundle(this.store, key, createReadStream(path, { highWaterMark: 1 << 20 }), { contentType: 'application/zip', contentLength: size });
        await rm(path, { force: true });
        this.log.info('dropped bundle taken', { file: name, key });
        this.ingest(key);
      }
    } catch (error) {
      this.log.error('drop folder scan failed', { error });
    } finally {
      this.scanning = false;
    }
  }
}
