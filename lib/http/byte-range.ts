/** The `Range` header of a download: one byte range, as blobs, resources and stored objects take it. */

/**
 * One `bytes=` range of an object of `size` bytes (RFC 9110 §14.1.2); undefined to send it whole
 * (no Range, or several ranges, which a server may answer whole), 'unsatisfiable' for a range
 * that starts past the end.
 */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  // 20 digits hold any byte offset there is; past 2^53 a number is inexact, but still past the end.
  const match = /^bytes=(\d{0,20})-(\d{0,20})$/.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
