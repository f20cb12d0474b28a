/** Shared by the review9-* attack tests (an independent review of issue 9): small entries, a store, a Lambda-mode context. */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../lib/adapters/job-queue/in-process-job-queue.ts';
import { readAllBytes, type ObjectStore } from '../../lib/ports/object-store.ts';
import { DEFAULT_SETTINGS, type RegistryContext, type RegistrySettings } from '../../lib/registry/context.ts';
import type { RepositoryDocument } from '../../lib/registry/index-document.ts';
import { entryPieceOf } from '../../lib/registry/index-store/entry-pieces.ts';
import { commitIndexChange, type IndexHosts } from '../../lib/registry/index-store/index-writer.ts';
import { sameCoordinate } from '../../lib/registry/index-store/index-table.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import type { JsonObject } from '../../lib/universe/package-model.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

export const HOSTS: IndexHosts = { publicBaseUrl: 'https://registry.example', dockerHost: 'registry.example' };

export function entry(name: string, packagingVersion: string, releaseVersion: number, minimum?: string, padding = 200, version = '1.0'): JsonObject {
  return {
    packagingVersion,
    name,
    version,
    maintainer: 'ops@example.com',
    description: `${name} ${randomBytes(padding).toString('hex')}`,
    tags: [],
    releaseVersion,
    ...(minimum ? { minDcosReleaseVersion: minimum } : {}),
  };
}

export async function add(store: ObjectStore, e: JsonObject, hosts: IndexHosts = HOSTS) {
  const piece = await entryPieceOf(e);
  return commitIndexChange(store, hosts, () => ({ kind: 'edit', remove: (row) => sameCoordinate(row, String(e.name), String(e.version)), add: [piece] }));
}

export async function remove(store: ObjectStore, name: string, version = '1.0', hosts: IndexHosts = HOSTS) {
  return commitIndexChange(store, hosts, () => ({ kind: 'edit', remove: (row) => sameCoordinate(row, name, version) }));
}

export async function newStore(): Promise<{ store: FsObjectStore; directory: string }> {
  const directory = await temporaryDirectory();
  const store = new FsObjectStore(directory, (method, key) => `https://bucket.example/${key}?method=${method}`);
  return { store, directory };
}

export function contextOf(store: ObjectStore, settings: Partial<RegistrySettings> = {}): RegistryContext {
  return {
    store,
    queue: new InProcessJobQueue(silentLogger),
    settings: { ...DEFAULT_SETTINGS, publicBaseUrl: HOSTS.publicBaseUrl, dockerHost: HOSTS.dockerHost, ...settings },
    log: silentLogger,
    now: () => new Date(),
  };
}

export async function gunzipDoc(bytes: Buffer): Promise<RepositoryDocument> {
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as RepositoryDocument;
}

export { readAllBytes };
