/** Describe, list and remove: the package side of the management API. */
import { createHash } from 'node:crypto';
import { encodeCoordinate } from '../universe/coordinate.ts';
import type { RegistryContext } from './context.ts';
import { readJson, updateJson } from './json-objects.ts';
import { readAllRecords } from './maintenance/live-set.ts';
import { packageRecordKey } from './layout.ts';
import type { PackageRecord } from './records.ts';
import { VersionNotFoundError } from './registry-errors.ts';

export async function describe(context: RegistryContext, name: string, version: string): Promise<PackageRecord> {
  const record = await readJson<PackageRecord>(context.store, packageRecordKey(encodeCoordinate({ name, version })));
  if (!record || record.value.status === 'Removed') throw new VersionNotFoundError(name, version);
  return record.value;
}

export async function listPackages(context: RegistryContext, filter: { name?: string } = {}): Promise<PackageRecord[]> {
  const records = (await readAllRecords(context))
    .map((entry) => entry.record)
    .filter((record) => record.status !== 'Removed' && (filter.name === undefined || record.name === filter.name));
  return records.sort((a, b) => a.name.localeCompare(b.name) || (b.releaseVersion ?? 0) - (a.releaseVersion ?? 0));
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
  const deduplicationId = `remove-${createHash('sha256').update(`${name}\n${version}\n${updated.updatedAt}`).digest('hex')}`;
  await context.queue.send({ kind: 'remove', name, version }, { deduplicationId });
  return updated;
}
