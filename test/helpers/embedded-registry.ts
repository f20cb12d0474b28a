import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverConfigFrom } from '../../lib/config/environment.ts';
import { startRegistryServer } from '../../lib/server/registry-server.ts';
import { appendFileSync } from 'node:fs';
import { createLogger, silentLogger } from '../../lib/support/logger.ts';
import type { RegistryUnderTest } from './registry-under-test.ts';

export const TEST_TOKEN = 'test-token-0123456789';

/** The embedded registry on a fresh data directory, a free port and a management token. */
export async function startEmbeddedRegistry(options: { tokens?: string; env?: Record<string, string> } = {}): Promise<RegistryUnderTest & { dataDir: string }> {
  // Created and removed here, not with a test hook: the registry outlives the hook that starts it.
  const dataDir = await mkdtemp(join(tmpdir(), 'registry-data-'));
  const config = serverConfigFrom({ PORT: '0', REGISTRY_DATA_DIR: dataDir, REGISTRY_AUTH_TOKENS: options.tokens ?? TEST_TOKEN, REGISTRY_DROP_SCAN_SECONDS: '1', REGISTRY_GC_GRACE_SECONDS: '0', ...options.env });
  // REGISTRY_TEST_LOG=<file> keeps the server's log lines for debugging a failing scenario.
  const logFile = process.env.REGISTRY_TEST_LOG;
  const log = logFile ? createLogger({ level: 'debug', write: (line) => appendFileSync(logFile, `${line}\n`) }) : silentLogger;
  const registry = await startRegistryServer(config, { log });
  return {
    url: registry.url,
    token: options.tokens ?? TEST_TOKEN,
    store: registry.store,
    dataDir: join(dataDir),
    settled: () => registry.settled(),
    close: async () => {
      await registry.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
