/**
 * Docker image references (`[host[:port]/]path[:tag][@sha256:…]`) as package metadata writes them,
 * and the repository name the registry serves them under (spec §4.4: a leading registry host is
 * dropped, the rest kept: `docker.io/mesosphere/foo:1` → `mesosphere/foo`, `redis:5.0.5` → `redis`).
 * Every part is validated: names and tags end up in storage keys and URLs.
 */
import { PackagingError } from '../domain/errors.ts';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;

export const DOCKER_HUB = 'docker.io';

export interface ImageReference {
  /** As written in the metadata. */
  readonly original: string;
  /** Registry host (with port) the image is pulled from; docker.io when none is named. */
  readonly registry: string;
  /** Path on that registry (Docker Hub's official images get `library/`). */
  readonly remoteName: string;
  /** Name this registry serves the image under: the path without the host. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && REPOSITORY.test(name);
}

export function isTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isDigest(digest: string): boolean {
  return DIGEST.test(digest);
}

export function parseImageReference(original: string): ImageReference {
  const fail = (why: string): never => {
    throw new PackagingError('InvalidImageReference', `The Docker image [${original}] ${why}`, { image: original });
  };
  let rest = original.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) fail('has a digest that is not sha256:<64 hex digits>');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!isTag(tag)) fail('has an invalid tag');
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasHost ? first : DOCKER_HUB;
  if (hasHost && !HOST.test(first)) fail('names an invalid registry host');
  const repository = (hasHost ? parts.slice(1) : parts).join('/');
  if (!isRepositoryName(repository)) fail('has an invalid repository name (lower-case letters, digits and . _ - separators)');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const remoteName = registry === DOCKER_HUB && !repository.includes('/') ? `library/${repository}` : repository;
  return { original, registry, remoteName, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/**
 * `<host>/<repository>@<digest>`: how a package's metadata names the image once served here.
 * Always by the digest of the manifest the bundle carried, so what a package runs never depends
 * on a tag another package may publish too. (No `:tag@digest` form: dockerd and containerd
 * take it, but skopeo and podman refuse a reference with both.)
 */
export function servedImageReference(dockerHost: string, image: Pick<ImageReference, 'repository'>, digest: string): string {
  return `${dockerHost}/${image.repository}@${digest}`;
}
