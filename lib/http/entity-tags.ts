/** Entity tags as conditional requests compare them. */

/** If-None-Match by weak comparison (RFC 9110 §13.1.2): `W/` does not matter, `*` matches any, a list matches if one does. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}
