/** What every function handler is built from; functions/ builds it from the environment. */
import type { AuthPolicy } from '../http/auth.ts';
import type { RegistryContext } from '../registry/context.ts';

export interface HandlerDependencies {
  readonly context: RegistryContext;
  readonly auth: AuthPolicy;
  /** Prefix of this registry's keys in the bucket: S3 event keys carry it, store keys do not. */
  readonly keyPrefix: string;
  /** Starts ingest of a stored bundle where storage emits no event of its own (embedded, self-hosted). */
  readonly triggerIngest: (bundleKey: string) => Promise<void>;
}
