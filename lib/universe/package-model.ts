/**
 * Typed views of the Universe documents. The schemas (schemas/*.json) are the authority; these
 * types describe what has passed them, so the domain can read fields without casts.
 */
export type PackagingVersion = '2.0' | '3.0' | '4.0' | '5.0';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ContentHash {
  readonly algo: 'sha256';
  readonly value: string;
}

export interface CliBinary {
  readonly kind: 'executable' | 'zip';
  readonly url: string;
  readonly contentHash: readonly ContentHash[];
}

export type CliPlatform = 'darwin' | 'linux' | 'windows';

export interface Resource {
  readonly assets?: {
    readonly uris?: Readonly<Record<string, string>>;
    readonly container?: { readonly docker?: Readonly<Record<string, string>> };
  };
  readonly images?: {
    readonly 'icon-small'?: string;
    readonly 'icon-medium'?: string;
    readonly 'icon-large'?: string;
    readonly screenshots?: readonly string[];
  };
  readonly cli?: {
    readonly binaries: Partial<Record<CliPlatform, { readonly 'x86-64': CliBinary }>>;
  };
}

/** Fields every package.json, build definition, metadata and repo entry share. */
export interface PackageCore {
  readonly packagingVersion: PackagingVersion;
  readonly name: string;
  readonly version: string;
  readonly maintainer: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly minDcosReleaseVersion?: string;
  readonly upgradesFrom?: readonly string[];
  readonly downgradesTo?: readonly string[];
  readonly manager?: { readonly packageName: string; readonly minPackageVersion?: string };
  readonly [key: string]: JsonValue | undefined | object;
}

/** package.json of a Universe revision directory. */
export interface UniversePackageJson extends PackageCore {
  readonly selected?: boolean;
}

/** A fully resolved package as stored in a bundle's metadata.json (metadata-schema.json). */
export interface PackageMetadata extends PackageCore {
  readonly packagingVersion: '3.0' | '4.0' | '5.0';
  readonly marathon?: { readonly v2AppMustacheTemplate: string };
  readonly config?: JsonObject;
  readonly resource?: Resource;
}

/** build-definition-schema.json: metadata whose large parts may be `@path` local references. */
export interface BuildDefinition extends PackageCore {
  readonly packagingVersion: '3.0' | '4.0' | '5.0';
  readonly marathon?: { readonly v2AppMustacheTemplate: string };
  readonly config?: JsonObject | string;
  readonly resource?: Resource | string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
