/**
 * The published Universe repository: built from per-version fragments, with every URL pointing
 * at this registry, and the variants Cosmos may ask for (v3/v4 media types, older DC/OS).
 */
import { encodeCoordinate } from '../universe/coordinate.ts';
import { servedImageReference } from '../images/image-reference.ts';
import { rewriteTemplateImages } from '../universe/image-locations.ts';
import { parsePointer, resolvePointer } from '../universe/json-pointer.ts';
import { isJsonObject, type JsonObject, type JsonValue, type PackageMetadata } from '../universe/package-model.ts';
import { CARRIED_PACKAGING } from './index-store/index-table.ts';

/** Written at publish time, one per package version: everything the index needs, nothing more. */
export interface IndexFragment {
  readonly name: string;
  readonly version: string;
  readonly releaseVersion: number;
  readonly contentDigest: string;
  /** Canonical metadata: original URLs. */
  readonly metadata: PackageMetadata;
  readonly resources: readonly { readonly ref: string; readonly sha256: string; readonly filename: string }[];
  /** Image strings of the metadata, and what this registry serves them as. */
  readonly images?: readonly { readonly ref: string; readonly repository: string; readonly tag?: string; readonly digest: string; readonly template?: string }[];
}

export interface RepositoryDocument {
  packages: JsonObject[];
}

export const REPO_MEDIA_TYPE_PREFIX = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=';
export type RepoVersion = 'v3' | 'v4' | 'v5';

export function resourceUrl(publicBaseUrl: string, coordinate: string, sha256: string, filename: string): string {
  return `${publicBaseUrl}/resource/${coordinate}/sha256:${sha256}/${encodeURIComponent(filename)}`;
}

/**
 * The repository entry for a fragment: metadata with every URL and every image reference pointing
 * at this registry, plus releaseVersion.
 */
export function repositoryEntry(fragment: IndexFragment, hosts: { publicBaseUrl: string; dockerHost: string }): JsonObject {
  const entry = structuredClone(fragment.metadata) as unknown as JsonObject;
  const coordinate = encodeCoordinate(fragment);
  for (const resource of fragment.resources) {
    setPointer(entry, resource.ref, resourceUrl(hosts.publicBaseUrl, coordinate, resource.sha256, resource.filename));
  }
  const templateImages = new Map<string, string>();
  for (const image of fragment.images ?? []) {
    if (typeof resolvePointer(fragment.metadata as unknown as JsonValue, image.ref) !== 'string') throw new Error(`image pointer ${image.ref} does not resolve`);
    if (image.template !== undefined) {
      templateImages.set(image.template, servedTemplateImage(hosts.dockerHost, image.repository, image.digest, image.template));
      continue;
    }
    // By the digest the bundle carried: a tag another package publishes later changes nothing here.
    const served = servedImageReference(hosts.dockerHost, image, image.digest);
    const original = resolvePointer(entry as unknown as JsonValue, image.ref);
    setPointer(entry, image.ref, served);
    // A config default that is one of an enum's values: the enum must still allow it.
    if (image.ref.startsWith('/config/') && image.ref.endsWith('/default')) {
      const choices = resolvePointer(entry as unknown as JsonValue, `${image.ref.slice(0, -'/default'.length)}/enum`);
      if (Array.isArray(choices)) choices.forEach((choice, index) => choice === original && (choices[index] = served));
    }
  }
  if (templateImages.size > 0) {
    const marathon = entry.marathon as { v2AppMustacheTemplate: string };
    marathon.v2AppMustacheTemplate = rewriteTemplateImages(marathon.v2AppMustacheTemplate, templateImages);
  }
  entry.releaseVersion = fragment.releaseVersion;
  return entry;
}

/**
 * What a template's `"image"` literal becomes. A fixed one: the image by digest, as everywhere.
 * One whose tag is templated (`repo:{{service.version}}`): this registry's host with the tag left
 * to the template, so the default still renders to the image bundled (its tag is published) and
 * an operator who sets another version gets a clear "manifest unknown" from this registry, never
 * a pull from the internet, nor silently the default image.
 */
function servedTemplateImage(dockerHost: string, repository: string, digest: string, literal: string): string {
  const slash = literal.lastIndexOf('/');
  const colon = literal.lastIndexOf(':');
  const tagPart = colon > slash ? literal.slice(colon + 1) : '';
  if (literal.includes('{{') && tagPart.includes('{{') && !literal.slice(0, colon).includes('{{') && !literal.includes('@')) return `${dockerHost}/${repository}:${tagPart}`;
  return servedImageReference(dockerHost, { repository }, digest);
}

/** Compares dotted DC/OS release versions numerically ("1.10" > "1.9"). */
export function compareDcosVersions(a: string, b: string): number {
  return compareVersionParts(a.split('.').map(Number), b.split('.').map(Number));
}

/** The same on versions already split into numbers (missing parts count as 0: "2" = "2.0"). */
export function compareVersionParts(left: readonly number[], right: readonly number[]): number {
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * The document for a client: only entries its media type can carry, and (when it said which DC/OS
 * it runs) only entries whose minDcosReleaseVersion it satisfies, as the Universe server did.
 */
export function repositoryVariant(document: RepositoryDocument, version: RepoVersion, dcosVersion: string | undefined): RepositoryDocument {
  return {
    packages: document.packages.filter((entry) => {
      if (!CARRIED_PACKAGING[version].has(String(entry.packagingVersion))) return false;
      const minimum = entry.minDcosReleaseVersion;
      return dcosVersion === undefined || typeof minimum !== 'string' || compareDcosVersions(minimum, dcosVersion) <= 0;
    }),
  };
}

function setPointer(document: JsonObject, pointer: string, value: string): void {
  const tokens = parsePointer(pointer);
  if (!tokens || tokens.length === 0) throw new Error(`bad pointer ${pointer}`);
  let current: JsonValue = document;
  for (const token of tokens.slice(0, -1)) {
    current = (Array.isArray(current) ? current[Number(token)] : isJsonObject(current) ? current[token] : undefined) as JsonValue;
    if (current === undefined || current === null || typeof current !== 'object') throw new Error(`pointer ${pointer} does not resolve`);
  }
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(current)) current[Number(last)] = value;
  else (current as JsonObject)[last] = value;
}
