/** Describe, list and remove: the package side of the management API. */
import { createHash } from 'node:crypto';
import { encodeCoordinate } from '../universe/coordinate.ts';
import type { RegistryContext } from './context.ts';
import { readJson, updateJson, type Versioned } from './json-objects.ts';
import { packageRecordKey } from './layout.ts';
import type { PackageRecord } from './records.ts';
import { VersionNotFoundError } from './registry-errors.ts';
import { noteInCatalog } from './catalog/package-catalog.ts';

export async function describe(context: RegistryContext, name: string, version: string): Promise<PackageRecord> {
  return (await describeVersion(context, name, version)).value;
}

/** The package's record with its ETag and key, for a client that waits on it (record-watch.ts). */
export async function describeVersion(context: RegistryContext, name: string, version: string): Promise<Versioned<PackageRecord> & { key: string }> {
  const key = packageRecordKey(encodeCoordinate({ name, version }));
  const record = await readJson<PackageRecord>(context.store, key);
  if (!record || record.value.status === 'Removed') throw new VersionNotFoundError(name, version);
  return { ...record, key };
}

/** Marks the package Removing and queues its removal; the index writer does the rest. */
export async function requestRemoval(context: RegistryContext, name: string, version: string): Promise<PackageRecord> {
  const key = packageRecordKey(encodeCoordinate({ name, version }));
  let found = false;
  const updated = await updateJson<PackageRecord>(context.store, key, (current) => {
    found = current !== undefined && current.status !== 'Removed';
    if (!current || current.status === 'Removing' || current.status === 'Removed') return undefined;
    return { ...current, status: 'Removing', updatedAt: context.now().toISOString() };
  });
  if (!found || !updated) throw new VersionNotFoundError(name, version);
  await noteInCatalog(context, name, version);
  const deduplicationId = `remove-${createHash('sha256').update(`${name}\n${version}\n${updated.updatedAt}`).digest('hex')}`;
  await context.queue.send({ kind: 'remove', name, version }, { deduplicationId });
  return updated;
}
