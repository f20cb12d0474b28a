/**
 * The registry's use cases on a real filesystem store behind a FaultyStore, with a ChaoticQueue:
 * a test adds crafted bundles, runs ingest and the jobs itself, and pauses or fails any call.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../../lib/adapters/object-store/fs-object-store.ts';
import { DEFAULT_SETTINGS, type RegistryContext, type RegistrySettings } from '../../../lib/registry/context.ts';
import { ingestBundle, type IngestOutcome } from '../../../lib/registry/ingest.ts';
import { fsck, type FsckReport } from '../../../lib/registry/maintenance/fsck.ts';
import { handleJob } from '../../../lib/registry/publisher.ts';
import { readJson } from '../../../lib/registry/json-objects.ts';
import { packageRecordKey, uploadBundleKey, uploadRecordKey } from '../../../lib/registry/layout.ts';
import type { PackageRecord, UploadRecord } from '../../../lib/registry/records.ts';
import { readPublishedIndex } from '../../../lib/registry/repository-index.ts';
import { encodeCoordinate } from '../../../lib/universe/coordinate.ts';
import type { PackageMetadata } from '../../../lib/universe/package-model.ts';
import { createLogger, silentLogger } from '../../../lib/support/logger.ts';
import { sampleBundleEntries, sampleManifest, sampleMetadata } from '../bundle-builder.ts';
import { craftZip, type CraftedEntry } from '../zip-crafter.ts';
import { ChaoticQueue } from './chaotic-queue.ts';
import { FaultyStore } from './faulty-store.ts';

export interface Harness {
  readonly store: FaultyStore;
  readonly inner: FsObjectStore;
  readonly queue: ChaoticQueue;
  readonly context: RegistryContext;
  /** Stores `bytes` as upload `id` and returns the bundle key (no ingest yet). */
  upload(bytes: Buffer, id?: string): Promise<string>;
  ingest(key: string, context?: RegistryContext): Promise<IngestOutcome>;
  /** Delivers every queued job to the real handler. */
  drain(options?: Parameters<ChaoticQueue['run']>[1]): Promise<void>;
  record(name: string, version: string): Promise<PackageRecord | undefined>;
  uploadRecord(id: string): Promise<UploadRecord | undefined>;
  indexed(): Promise<string[]>;
  fsck(repair?: boolean): Promise<FsckReport>;
  close(): Promise<void>;
}

export async function startHarness(settings: Partial<RegistrySettings> = {}): Promise<Harness> {
  const directory = await mkdtemp(join(tmpdir(), 'fault-'));
  const inner = new FsObjectStore(directory);
  const store = new FaultyStore(inner);
  const queue = new ChaoticQueue();
  const context: RegistryContext = {
    store,
    queue,
    settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry.test', gcGraceSeconds: 0, staleAfterSeconds: 2, ...settings },
    log: process.env.HARNESS_LOG ? createLogger({ level: 'debug' }) : silentLogger,
    now: () => new Date(),
  };
  let uploads = 0;
  const harness: Harness = {
    store,
    inner,
    queue,
    context,
    upload: async (bytes, id = `upload-${String(++uploads).padStart(4, '0')}`) => {
      const key = uploadBundleKey(id);
      await inner.put(key, bytes);
      return key;
    },
    ingest: (key, other = context) => ingestBundle(other, key),
    drain: async (options) => void (await queue.run((job, attempt) => handleJob(context, job, attempt), options)),
    record: async (name, version) => (await readJson<PackageRecord>(inner, packageRecordKey(encodeCoordinate({ name, version }))))?.value,
    uploadRecord: async (id) => (await readJson<UploadRecord>(inner, uploadRecordKey(id)))?.value,
    indexed: async () => ((await readPublishedIndex(inner))?.document.packages ?? []).map((entry) => `${String(entry.name)} ${String(entry.version)}`).sort(),
    fsck: (repair = false) => fsck({ ...context, store: inner }, { repair }),
    close: () => rm(directory, { recursive: true, force: true, maxRetries: 5 }),
  };
  return harness;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * A valid crafted bundle: the sample package renamed, with `description` to vary its content and
 * `files` to give it resources of its own (shared between bundles when the bytes are equal).
 */
export function craftedBundle(
  options: { name?: string; version?: string; description?: string; files?: Buffer[]; change?: (metadata: PackageMetadata) => PackageMetadata; metadataText?: (json: string) => string } = {},
): Buffer {
  const name = options.name ?? 'sample';
  const version = options.version ?? '1.0.0';
  const base = sampleMetadata();
  const files = options.files ?? [];
  const uris: Record<string, string> = { ...(base.resource as { assets: { uris: Record<string, string> } }).assets.uris };
  files.forEach((_, index) => (uris[`file-${index}`] = `https://example.com/files/file-${index}.bin`));
  let metadata: PackageMetadata = {
    ...base,
    name,
    version,
    description: options.description ?? base.description,
    resource: { ...(base.resource as object), assets: { uris } },
  } as PackageMetadata;
  if (options.change) metadata = options.change(metadata);
  const manifest = sampleManifest();
  const resources = [
    ...manifest.resources,
    ...files.map((bytes, index) => ({
      ref: `/resource/assets/uris/file-${index}`,
      url: `https://example.com/files/file-${index}.bin`,
      sha256: sha256(bytes),
      size: bytes.length,
      filename: `file-${index}.bin`,
      contentType: 'application/octet-stream',
    })),
  ];
  const entries: CraftedEntry[] = [
    ...sampleBundleEntries(metadata, { ...manifest, package: { name, version }, resources }),
    ...files.map((bytes) => ({ name: `resources/sha256/${sha256(bytes)}`, content: bytes })),
  ];
  const seen = new Set<string>();
  const unique = entries.filter((entry) => (seen.has(entry.name) ? false : (seen.add(entry.name), true)));
  // A metadata.json given as text is stored, not deflated: the reader sees its bytes as they are.
  const edit = options.metadataText;
  return craftZip(edit ? unique.map((entry) => (entry.name === 'metadata.json' ? { name: entry.name, content: Buffer.from(edit(Buffer.from(entry.content).toString('utf8'))) } : entry)) : unique);
}
