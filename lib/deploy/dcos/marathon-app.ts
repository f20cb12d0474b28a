/**
 * The Marathon app that runs the self-hosted server on DC/OS, from the options: instances and
 * resources, the storage (a local persistent volume, a mount volume pinned to its agent, or S3 with
 * its credentials file from a DC/OS secret), TLS, the management tokens from a secret, the VIP that
 * gives `<name>.marathon.l4lb.thisdcos.directory:443`, and a health check on /health.
 */
import { isCapabilityToken } from '../../auth/token-entries.ts';
import { RegistryError } from '../../domain/errors.ts';
import { PackagingError } from '../../domain/errors.ts';
import type { RegistryOptions } from '../options.ts';

export type MarathonApp = Record<string, unknown>;

const DATA_PATH = 'registry-data';
const CREDENTIALS_PATH = 's3-credentials';

export function marathonApp(options: RegistryOptions): MarathonApp {
  const { service, storage } = options;
  if (!service.artifactUrl) {
    throw new PackagingError('InvalidOptions', 'Activating on DC/OS needs service.artifact-url: where Mesos fetches the server bundle (dist/server/registry.mjs)', {
      option: 'service.artifact-url',
    });
  }
  const id = service.name.startsWith('/') ? service.name : `/${service.name}`;
  const env: Record<string, unknown> = {
    HOST: '0.0.0.0',
    REGISTRY_PUBLIC_URL: options.publicUrl,
    REGISTRY_DOCKER_HOST: options.dockerHost,
    LOG_LEVEL: options.logLevel,
  };
  const secrets: Record<string, { source: string }> = {};
  const volumes: Record<string, unknown>[] = [];
  const app: MarathonApp = {
    id,
    instances: service.instances,
    cpus: service.cpus,
    mem: service.mem,
    disk: 0,
    // Marathon gives the port in $PORT0; the VIP maps :443 of the service host to it.
    cmd: 'PORT=$PORT0 exec node --enable-source-maps registry.mjs',
    fetch: [{ uri: service.artifactUrl, extract: false, executable: false, cache: false }],
    container: { type: 'MESOS', docker: { image: service.image }, volumes },
    portDefinitions: [{ port: 0, protocol: 'tcp', name: 'registry', labels: { VIP_0: `${id}:443` } }],
    healthChecks: [
      {
        protocol: options.tls ? 'MESOS_HTTPS' : 'MESOS_HTTP',
        path: '/health',
        portIndex: 0,
        gracePeriodSeconds: 120,
        intervalSeconds: 30,
        timeoutSeconds: 10,
        maxConsecutiveFailures: 3,
      },
    ],
    labels: { DCOS_SERVICE_NAME: id.slice(1).replace(/\//g, '.'), DCOS_PACKAGE_REGISTRY: 'true' },
    env,
    secrets,
  };
  if (storage.kind === 's3') {
    env.REGISTRY_S3_BUCKET = storage.bucket;
    if (storage.path) env.REGISTRY_S3_PREFIX = storage.path;
    if (storage.endpoint) env.REGISTRY_S3_ENDPOINT = storage.endpoint;
    env.AWS_PROFILE = storage.credentialProfileName;
    if (storage.credentialSecretPath) {
      secrets.s3credentials = { source: storage.credentialSecretPath };
      volumes.push({ containerPath: CREDENTIALS_PATH, secret: 's3credentials' });
      env.AWS_SHARED_CREDENTIALS_FILE = `$MESOS_SANDBOX/${CREDENTIALS_PATH}`;
    }
  } else {
    // One resident instance on its volume: no second copy may start during an upgrade.
    const containerPath = storage.kind === 'mount-volume' ? storage.containerPath : DATA_PATH;
    volumes.push({ containerPath, mode: 'RW', persistent: { type: storage.kind === 'mount-volume' ? 'mount' : 'root', size: service.disk } });
    env.REGISTRY_DATA_DIR = containerPath;
    app.upgradeStrategy = { minimumHealthCapacity: 0, maximumOverCapacity: 0 };
    app.unreachableStrategy = 'disabled';
    if (storage.kind === 'mount-volume') app.constraints = [['hostname', 'IS', storage.pinnedHostname]];
  }
  if (options.authTokensSecretPath) {
    secrets.tokens = { source: options.authTokensSecretPath };
    env.REGISTRY_AUTH_TOKENS = { secret: 'tokens' };
  }
  if (options.readProtection) env.REGISTRY_READ_PROTECTION = 'true';
  if (options.trustedKeys.length > 0) env.REGISTRY_TRUSTED_KEYS = options.trustedKeys.join(',');
  if (options.tls) {
    env.REGISTRY_TLS_CERT = options.tls.certificatePath;
    env.REGISTRY_TLS_KEY = options.tls.keyPath;
  }
  return app;
}

/**
 * The Cosmos request that adds the registry as the first package repository (spec §6.5). With
 * read protection on, Cosmos (which sends no credentials) reads through the capability URL of a
 * read token: `<public URL>/c/<read token>/repo` (docs/security.md).
 */
export function repositoryAddRequest(options: RegistryOptions, readToken?: string): { name: string; uri: string; index: number } {
  if (!options.readProtection) return { name: 'Registry', uri: `${options.publicUrl}/repo`, index: 0 };
  if (!readToken) {
    throw new RegistryError('InvalidOption', 'registry.read-protection is on: pass --read-token (or DCOS_REGISTRY_READ_TOKEN), a read token the registry knows, so that Cosmos reads through its capability URL', {});
  }
  if (!isCapabilityToken(readToken)) throw new RegistryError('InvalidOption', 'the read token may hold letters, digits and -._~ only (dcos-registry token create makes one)', {});
  return { name: 'Registry', uri: `${options.publicUrl}/c/${readToken}/repo`, index: 0 };
}
