/** Shared bits of the adversarial (review) tests: invariant checks and a per-actor stepping store. */
import { createHash } from 'node:crypto';
import { readJson, listAllKeys } from '../../lib/registry/json-objects.ts';
import { imageBlobKey, packageRecordKey, resourceKey } from '../../lib/registry/layout.ts';
import { readFragment } from '../../lib/registry/publisher.ts';
import type { PackageRecord } from '../../lib/registry/records.ts';
import { readPublishedIndex } from '../../lib/registry/repository-index.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { composeObject, type ComposedPart, type ListPage, type ObjectInfo, type ObjectStore, type PresignOptions, type PutOptions, type StoredObject, type ByteRange } from '../../lib/ports/object-store.ts';
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';

export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What must hold at rest: every /repo entry has a live record; every Added record is in /repo and its files are stored. */
export async function invariantProblems(h: Harness): Promise<string[]> {
  const problems: string[] = [];
  const index = await readPublishedIndex(h.inner);
  const entries = index?.document.packages ?? [];
  const indexed = new Set<string>();
  for (const entry of entries) {
    const coordinate = encodeCoordinate({ name: String(entry.name), version: String(entry.version) });
    indexed.add(coordinate);
    const record = (await readJson<PackageRecord>(h.inner, packageRecordKey(coordinate)))?.value;
    if (!record || (record.status !== 'Added' && record.status !== 'Processing')) problems.push(`/repo lists ${entry.name} ${entry.version} but its record is ${record?.status ?? 'absent'}`);
    if (!record || !(await readFragment({ ...h.context, store: h.inner }, coordinate, record.contentDigest))) problems.push(`/repo lists ${entry.name} ${entry.version} but it has no fragment`);
    if (record) {
      for (const digest of record.resources) if (!(await h.inner.head(resourceKey(digest)))) problems.push(`/repo entry ${entry.name} ${entry.version}: resource ${digest.slice(0, 12)} missing`);
      for (const digest of record.imageBlobs ?? []) if (!(await h.inner.head(imageBlobKey(digest)))) problems.push(`/repo entry ${entry.name} ${entry.version}: blob ${digest.slice(0, 12)} missing`);
    }
  }
  for (const key of (await listAllKeys(h.inner, 'packages/')).filter((k) => k.endsWith('/record.json'))) {
    const record = (await readJson<PackageRecord>(h.inner, key))?.value;
    if (!record || record.status !== 'Added') continue;
    const coordinate = key.split('/')[1]!;
    if (!indexed.has(coordinate)) problems.push(`${record.name} ${record.version} is Added but not in /repo`);
    for (const digest of record.resources) if (!(await h.inner.head(resourceKey(digest)))) problems.push(`${record.name} ${record.version} is Added but resource ${digest.slice(0, 12)} is missing`);
    for (const digest of record.imageBlobs ?? []) if (!(await h.inner.head(imageBlobKey(digest)))) problems.push(`${record.name} ${record.version} is Added but blob ${digest.slice(0, 12)} is missing`);
  }
  return problems;
}

/**
 * A per-actor view of a store that pauses before its N-th call (0-based), so one actor (a GC, an
 * ingest) can be stopped at each storage call in turn while others use the same inner store.
 */
export class Stepper implements ObjectStore {
  readonly name: string;
  readonly calls: string[] = [];
  readonly gate = new Gate();
  private count = 0;
  constructor(
    readonly inner: ObjectStore,
    readonly pauseAt: number,
  ) {
    this.name = inner.name;
  }
  get multipart() {
    return this.inner.multipart;
  }
  get sweepAbandonedWrites() {
    return this.inner.sweepAbandonedWrites?.bind(this.inner);
  }
  private async step(what: string): Promise<void> {
    const index = this.count++;
    this.calls.push(what);
    if (index === this.pauseAt) await this.gate.pass();
  }
  async head(key: string): Promise<ObjectInfo | undefined> {
    await this.step(`head ${key}`);
    return this.inner.head(key);
  }
  async get(key: string, options?: { range?: ByteRange }): Promise<StoredObject> {
    await this.step(`get ${key}`);
    return this.inner.get(key, options);
  }
  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<{ etag: string }> {
    await this.step(`put ${key}`);
    return this.inner.put(key, body, options);
  }
  async compose(key: string, parts: readonly ComposedPart[], options?: PutOptions): Promise<{ etag: string }> {
    await this.step(`put ${key}`);
    return composeObject(this.inner, key, parts, options);
  }
  async delete(key: string): Promise<void> {
    await this.step(`delete ${key}`);
    return this.inner.delete(key);
  }
  async list(prefix: string, options?: { token?: string; limit?: number }): Promise<ListPage> {
    await this.step(`list ${prefix}`);
    return this.inner.list(prefix, options);
  }
  presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined> {
    return this.inner.presign(method, key, options);
  }
}

/** Resolves to 'done' or 'timeout'. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(
      () => 'done' as const,
      () => 'done' as const,
    ),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

/**
 * A stored file no package uses any more (its package was removed with a long grace window);
 * when the harness has a grace window, aged past it by its last write (reuse refreshes nothing).
 */
export async function orphanedFile(h: Harness, seed: string, size = 1024 * 1024): Promise<{ bytes: Buffer; key: string }> {
  const bytes = sizedBytes(size, seed);
  await h.ingest(await h.upload(craftedBundle({ name: `old-${seed}`, files: [bytes] })));
  await h.drain();
  const keep = { ...h.context, settings: { ...h.context.settings, gcGraceSeconds: 3600 } };
  await requestRemoval(keep, `old-${seed}`, '1.0.0');
  await h.queue.run((job, attempt) => handleJob(keep, job, attempt));
  const key = resourceKey(sha256Hex(bytes));
  assert.ok(await h.inner.head(key));
  if (h.context.settings.gcGraceSeconds > 0) {
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const stored of await listAllKeys(h.inner, 'resources/')) await utimes(join(h.inner.root, `${stored}.obj`), old, old);
  }
  return { bytes, key };
}
