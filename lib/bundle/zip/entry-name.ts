/**
 * Entry names are untrusted input: a name is accepted only if it is a plain relative path that
 * cannot escape a directory it might be extracted into, on any operating system.
 */
export function unsafeEntryNameReason(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.startsWith('/')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'starts with a drive letter';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  const segments = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  for (const segment of segments) {
    if (segment === '..') return "contains a '..' segment";
    if (segment === '.') return "contains a '.' segment";
    if (segment === '') return 'contains an empty segment';
  }
  return undefined;
}
