/** The registry a scenario runs against: embedded (filesystem) or the local AWS-shaped stack. */
import type { ObjectStore } from '../../lib/ports/object-store.ts';
import { listAllKeys } from '../../lib/registry/json-objects.ts';

export interface RegistryUnderTest {
  readonly url: string;
  readonly token: string;
  readonly store: ObjectStore;
  /** Resolves once every ingest and every queued job has been handled. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function storedKeys(registry: RegistryUnderTest, prefix = ''): Promise<string[]> {
  return (await listAllKeys(registry.store, prefix)).sort();
}
