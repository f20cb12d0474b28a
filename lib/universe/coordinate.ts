/**
 * The package coordinate of spec §4.4: lower-case RFC 4648 base32, without padding, of the compact
 * JSON `{"name":…,"version":…}` (keys in that order). It is URL- and file-name-safe, so it names a
 * package in resource URLs and storage keys.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export interface PackageCoordinate {
  readonly name: string;
  readonly version: string;
}

export function base32Lower(bytes: Uint8Array): string {
  let output = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      output += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) output += ALPHABET[(buffer << (5 - bits)) & 31];
  return output;
}

export function decodeBase32Lower(text: string): Uint8Array | undefined {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) return undefined;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bytes.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Uint8Array.from(bytes);
}

export function encodeCoordinate(coordinate: PackageCoordinate): string {
  const json = JSON.stringify({ name: coordinate.name, version: coordinate.version });
  return base32Lower(new TextEncoder().encode(json));
}

/** The coordinate behind an encoded segment, or undefined when it is not one. */
export function decodeCoordinate(encoded: string): PackageCoordinate | undefined {
  const bytes = decodeBase32Lower(encoded);
  if (bytes === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { name, version } = parsed as Record<string, unknown>;
    if (typeof name !== 'string' || typeof version !== 'string') return undefined;
    if (encodeCoordinate({ name, version }) !== encoded) return undefined;
    return { name, version };
  } catch {
    return undefined;
  }
}
