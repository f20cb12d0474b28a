/** Where an asset string is fetched from: an http(s) URL (possibly rewritten) or a local file. */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DownloadError } from '../../domain/errors.ts';
import { rewriteUrl, type UrlRewriteRule } from './url-rewrite.ts';

export type AssetLocation =
  | { readonly kind: 'http'; readonly original: string; readonly url: URL }
  | { readonly kind: 'file'; readonly original: string; readonly path: string };

const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

export function locateAsset(original: string, context: { baseDirectory: string; rewrites: readonly UrlRewriteRule[] }): AssetLocation {
  const effective = rewriteUrl(original, context.rewrites);
  if (!HAS_SCHEME.test(effective)) {
    // Relative paths are allowed in build definitions (spec §2.4): relative to the definition.
    return { kind: 'file', original, path: isAbsolute(effective) ? effective : resolve(context.baseDirectory, effective) };
  }
  let url: URL;
  try {
    url = new URL(effective);
  } catch {
    throw new DownloadError(`Cannot fetch ${original}: not a valid URL`, { url: original });
  }
  if (url.protocol === 'file:') return { kind: 'file', original, path: fileURLToPath(url) };
  if (url.protocol === 'http:' || url.protocol === 'https:') return { kind: 'http', original, url };
  throw new DownloadError(`Cannot fetch ${original}: the scheme ${url.protocol} is not supported (http, https, file or a path)`, {
    url: original,
  });
}

export function describeLocation(location: AssetLocation): string {
  const fetched = location.kind === 'http' ? location.url.href : location.path;
  return fetched === location.original ? location.original : `${location.original} (fetched from ${fetched})`;
}
