/**
 * `npm start`: the registry on its embedded default (http://127.0.0.1:8080, data under
 * ./.registry-data), or on an S3-compatible bucket when REGISTRY_S3_BUCKET is set.
 */
import { ConfigurationError, serverConfigFrom } from '../config/environment.ts';
import { createLogger } from '../support/logger.ts';
import { isLoopbackHost } from '../http/auth.ts';
import { firstRunLines } from './public-url.ts';
import { startRegistryServer } from './registry-server.ts';

// The AWS SDK warns on every start that future releases need Node.js 22; the versions this
// project pins support Node.js 20, so the warning tells an operator nothing they can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  let config;
  try {
    config = serverConfigFrom(process.env);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger({ level: config.logLevel });
  let registry;
  try {
    registry = await startRegistryServer(config, { log });
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const storage = config.storage.kind === 'fs' ? `directory ${config.storage.root}` : `bucket ${config.storage.bucket}${config.storage.endpoint ? ` at ${config.storage.endpoint}` : ''}`;
  log.info('registry listening', { url: registry.url, publicUrl: registry.publicUrl, storage, drop: `${config.dataDir}/drop` });
  // For the person at the terminal (the log lines above stay JSON, on stdout).
  process.stderr.write(`${firstRunLines(registry.url, registry.publicUrl, registry.publicUrlReach, config.readProtection).join('\n')}\n`);
  if (config.authTokens.length === 0) {
    log.warn(
      isLoopbackHost(config.host)
        ? 'no management token configured (REGISTRY_AUTH_TOKENS): the management API (/v1/*) accepts calls from this machine only'
        : `no management token configured (REGISTRY_AUTH_TOKENS) and listening on ${config.host}: the management API (/v1/*) refuses every call (a proxy on this host would make any caller look local); make one with \`dcos-registry token create --scope=admin\``,
    );
  }
  const stop = (): void => {
    log.info('stopping');
    void registry.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main();
