/** The Content-Type recorded for a resource: what the server said, else a guess from the name. */
const BY_EXTENSION: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.png$/i, 'image/png'],
  [/\.jpe?g$/i, 'image/jpeg'],
  [/\.gif$/i, 'image/gif'],
  [/\.svg$/i, 'image/svg+xml'],
  [/\.json$/i, 'application/json'],
  [/\.(tgz|tar\.gz)$/i, 'application/gzip'],
  [/\.tar$/i, 'application/x-tar'],
  [/\.zip$/i, 'application/zip'],
  [/\.jar$/i, 'application/java-archive'],
  [/\.txt$/i, 'text/plain'],
];

export const GENERIC_CONTENT_TYPE = 'application/octet-stream';

export function contentTypeFor(filename: string, served: string | undefined): string {
  const declared = served?.trim();
  if (declared && declared.toLowerCase() !== GENERIC_CONTENT_TYPE && /^[\w.+-]+\/[\w.+-]+/.test(declared)) return declared;
  for (const [pattern, type] of BY_EXTENSION) if (pattern.test(filename)) return type;
  return GENERIC_CONTENT_TYPE;
}

/**
 * The file name a URL or path ends with: last segment, without query or fragment, percent-decoded;
 * `resource` when that is empty or unsafe to use as a file name.
 */
export function filenameOf(url: string): string {
  const withoutSuffix = url.replace(/[?#].*$/s, '');
  const segment = withoutSuffix.slice(withoutSuffix.lastIndexOf('/') + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    decoded = segment;
  }
  // eslint-disable-next-line no-control-regex
  if (decoded === '' || decoded === '.' || decoded === '..' || /[/\\\u0000-\u001f]/.test(decoded) || decoded.length > 255) {
    return 'resource';
  }
  return decoded;
}
