/**
 * The options file (the original's `package-registry-options.json`): its schema, validation that
 * names the JSON path of every error, defaults as the original had them (local storage, one
 * instance, service `dcos-registry`), and the host names the service name implies.
 */
import { RegistryError } from '../domain/errors.ts';
import { compileSchema } from '../universe/schema-registry.ts';
import optionsSchema from './options-schema.json' with { type: 'json' };

export const OPTIONS_SCHEMA = optionsSchema;

export interface RegistryOptions {
  readonly storage:
    | { readonly kind: 'local' }
    | { readonly kind: 'mount-volume'; readonly containerPath: string; readonly pinnedHostname: string }
    | { readonly kind: 's3'; readonly bucket: string; readonly path: string; readonly endpoint?: string; readonly credentialSecretPath?: string; readonly credentialProfileName: string };
  readonly serviceAccountSecretPath: string;
  readonly publicUrl: string;
  readonly dockerHost: string;
  readonly authTokensSecretPath?: string;
  readonly readProtection: boolean;
  readonly trustedKeys: readonly string[];
  readonly tls?: { readonly certificatePath: string; readonly keyPath: string };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly service: {
    readonly name: string;
    readonly instances: number;
    readonly cpus: number;
    readonly mem: number;
    readonly disk: number;
    readonly image: string;
    readonly artifactUrl?: string;
  };
}

let schemaErrors: ((document: unknown) => string[]) | undefined;

/** `$.registry.s3.bucket must …` for every problem of the document, empty when it is valid. */
export function optionsErrors(document: unknown): string[] {
  schemaErrors ??= compileSchema(OPTIONS_SCHEMA);
  const errors = schemaErrors(document).map((line) => {
    const [where, ...rest] = line.split(' ');
    const path = where === '(root)' ? '$' : `$${where!.replace(/\//g, '.')}`;
    return `${path} ${rest.join(' ')}`;
  });
  if (errors.length > 0) return errors;
  const options = document as { registry?: { s3?: unknown; 'mount-volume'?: unknown }; service?: { instances?: number } };
  if (options.registry?.s3 && options.registry['mount-volume']) {
    errors.push('$.registry must name one storage: s3 or mount-volume, not both');
  }
  if ((options.service?.instances ?? 1) > 1 && !options.registry?.s3) {
    errors.push('$.service.instances above 1 needs registry.s3: local storage and mount volumes serve one instance');
  }
  return errors;
}

export class InvalidOptionsError extends RegistryError {
  constructor(file: string, errors: readonly string[]) {
    super('InvalidOptions', `The options file [${file}] is not valid:\n  ${errors.join('\n  ')}`, { file, errors });
    this.name = 'InvalidOptionsError';
  }
}

/**
 * The host a service name gets inside DC/OS (spec §1): slashes removed,
 * `/my/custom/dcos-registry` → `mycustomdcos-registry.marathon.l4lb.thisdcos.directory`.
 */
export function serviceHost(serviceName: string): string {
  return `${serviceName.replace(/\//g, '')}.marathon.l4lb.thisdcos.directory`;
}

/** Validates and completes an options document with the defaults. */
export function resolveOptions(document: unknown, file = 'options'): RegistryOptions {
  const errors = optionsErrors(document ?? {});
  if (errors.length > 0) throw new InvalidOptionsError(file, errors);
  type Raw = {
    registry?: {
      s3?: { bucket: string; path?: string; endpoint?: string; 'credential-secret-path'?: string; 'credential-profile-name'?: string };
      'mount-volume'?: { 'container-path': string; 'pinned-hostname': string };
      'service-account-secret-path'?: string;
      'public-url'?: string;
      'docker-host'?: string;
      'auth-tokens-secret-path'?: string;
      'read-protection'?: boolean;
      'trusted-keys'?: string[];
      tls?: { 'certificate-path': string; 'key-path': string };
      'log-level'?: RegistryOptions['logLevel'];
    };
    service?: Partial<Omit<RegistryOptions['service'], 'artifactUrl'>> & { 'artifact-url'?: string };
  };
  const raw = (document ?? {}) as Raw;
  const registry = raw.registry ?? {};
  const name = raw.service?.name ?? 'dcos-registry';
  const host = serviceHost(name);
  const s3 = registry.s3;
  const volume = registry['mount-volume'];
  return {
    storage: s3
      ? {
          kind: 's3',
          bucket: s3.bucket,
          path: s3.path ?? '',
          ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
          ...(s3['credential-secret-path'] ? { credentialSecretPath: s3['credential-secret-path'] } : {}),
          credentialProfileName: s3['credential-profile-name'] ?? 'default',
        }
      : volume
        ? { kind: 'mount-volume', containerPath: volume['container-path'], pinnedHostname: volume['pinned-hostname'] }
        : { kind: 'local' },
    serviceAccountSecretPath: registry['service-account-secret-path'] ?? 'dcos-registry-secret',
    publicUrl: registry['public-url'] ?? `https://${host}`,
    dockerHost: registry['docker-host'] ?? `${host}:443`,
    ...(registry['auth-tokens-secret-path'] ? { authTokensSecretPath: registry['auth-tokens-secret-path'] } : {}),
    readProtection: registry['read-protection'] ?? false,
    trustedKeys: registry['trusted-keys'] ?? [],
    ...(registry.tls ? { tls: { certificatePath: registry.tls['certificate-path'], keyPath: registry.tls['key-path'] } } : {}),
    logLevel: registry['log-level'] ?? 'info',
    service: {
      name,
      instances: raw.service?.instances ?? 1,
      cpus: raw.service?.cpus ?? 2,
      mem: raw.service?.mem ?? 4096,
      disk: raw.service?.disk ?? 20480,
      image: raw.service?.image ?? 'node:20-bookworm-slim',
      ...(raw.service?.['artifact-url'] ? { artifactUrl: raw.service['artifact-url'] } : {}),
    },
  };
}
