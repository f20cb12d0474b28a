/**
 * Platforms of multi-platform images: which children of an index a build takes (`--platform`,
 * repeatable, or `all`), and the index the registry serves when a bundle holds only some of them.
 *
 * A registry must never serve an index that names a manifest it does not have: a client on the
 * missing platform would follow the digest into `manifest unknown`. So an index whose children
 * are not all in the bundle is served reduced to those that are (same fields, fewer entries, a
 * digest of its own); an index whose children are all there is served as the source wrote it,
 * under the source's digest.
 */
import { PackagingError } from '../domain/errors.ts';
import { sha256Digest, type Descriptor, type ManifestList } from './media-types.ts';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** The platforms to take from a multi-platform image: some, or every one it names. */
export type PlatformChoice = readonly Platform[] | 'all';

export const DEFAULT_PLATFORMS: PlatformChoice = [{ os: 'linux', architecture: 'amd64' }];

const PART = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** `linux/arm64`, `linux/arm/v7`: as Docker and the OCI image spec write them. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => PART.test(part))) {
    throw new PackagingError('InvalidOption', `--platform expects os/arch or os/arch/variant (or all), got [${text}]`, { platform: text });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** `--platform` values (repeatable, each may be a comma list) as a choice. */
export function platformChoiceOf(values: readonly string[]): PlatformChoice {
  const items = values.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  if (items.length === 0) return DEFAULT_PLATFORMS;
  if (items.some((item) => item.toLowerCase() === 'all')) {
    if (items.length > 1) throw new PackagingError('InvalidOption', '--platform all takes every platform: name no others with it', {});
    return 'all';
  }
  const platforms = items.map(parsePlatform);
  return platforms.filter((platform, index) => platforms.findIndex((other) => formatPlatform(other) === formatPlatform(platform)) === index);
}

export function formatPlatform(platform: { readonly os?: string; readonly architecture?: string; readonly variant?: string } | undefined): string {
  if (!platform) return 'unknown';
  return [platform.os ?? 'unknown', platform.architecture ?? 'unknown', ...(platform.variant ? [platform.variant] : [])].join('/');
}

function matches(descriptor: Descriptor, wanted: Platform): boolean {
  const platform = descriptor.platform;
  return platform?.os === wanted.os && platform.architecture === wanted.architecture && (wanted.variant === undefined || platform.variant === wanted.variant);
}

/**
 * The children of `list` to take. Every named platform must be offered (else a typed error
 * naming what is offered); with `all`, every child.
 */
export function chooseChildren(list: ManifestList, choice: PlatformChoice, describe: (problem: string) => Error): Descriptor[] {
  if (choice === 'all') {
    if (list.manifests.length === 0) throw describe('its index names no image');
    return [...list.manifests];
  }
  const chosen: Descriptor[] = [];
  for (const platform of choice) {
    const child = list.manifests.find((entry) => matches(entry, platform));
    if (!child) {
      const offered = list.manifests.map((entry) => formatPlatform(entry.platform)).join(', ');
      throw describe(`has no ${formatPlatform(platform)} image (it offers ${offered || 'none'})`);
    }
    if (!chosen.includes(child)) chosen.push(child);
  }
  return chosen;
}

export interface ReducedIndex {
  readonly bytes: Buffer;
  readonly digest: string;
  /** The manifests the source named that are not stored, with their platforms. */
  readonly omitted: readonly { readonly digest: string; readonly platform: string }[];
}

/**
 * The index to serve for `source` when only the children `isStored` says are present exist;
 * undefined when all are (serve the source as it is). Deterministic: the same source and the same
 * stored children give the same bytes, so adding the same bundle twice gives the same digest.
 */
export function reduceIndex(source: Buffer, isStored: (digest: string) => boolean): ReducedIndex | undefined {
  const document = JSON.parse(source.toString('utf8')) as ManifestList & Record<string, unknown>;
  const kept = document.manifests.filter((child) => isStored(child.digest));
  if (kept.length === document.manifests.length) return undefined;
  const omitted = document.manifests.filter((child) => !isStored(child.digest)).map((child) => ({ digest: child.digest, platform: formatPlatform(child.platform) }));
  const bytes = Buffer.from(JSON.stringify({ ...document, manifests: kept }));
  return { bytes, digest: sha256Digest(bytes), omitted };
}
