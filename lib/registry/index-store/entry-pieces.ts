/** One repository entry turned into what the index is assembled from: its row and its compressed bytes. */
import { RegistryError } from '../../domain/errors.ts';
import { schemaErrors } from '../../universe/schema-registry.ts';
import type { JsonObject } from '../../universe/package-model.ts';
import { deflatePiece } from './gzip-segments.ts';
import { canonicalDcosVersion, type IndexRow } from './index-table.ts';
import type { EntryPiece } from './repository-object.ts';

/**
 * Validates `entry` as a v5 repository entry and compresses it (on the thread pool). Validation
 * covers this entry alone: the others were validated when they were published.
 */
export async function entryPieceOf(entry: JsonObject, options: { validate: boolean } = { validate: true }): Promise<EntryPiece> {
  const errors = options.validate ? schemaErrors('v5-repo', { packages: [entry] }) : [];
  if (errors.length > 0) {
    throw new RegistryError('InvalidIndex', `The repository would not be valid, so it was not published:\n  ${errors.join('\n  ')}`, { errors }, { source: 'internal' });
  }
  const raw = Buffer.from(JSON.stringify(entry));
  const piece = await deflatePiece(raw);
  const minimum = entry.minDcosReleaseVersion;
  const row: IndexRow = {
    name: String(entry.name),
    version: String(entry.version),
    releaseVersion: Number(entry.releaseVersion),
    packagingVersion: String(entry.packagingVersion),
    minDcos: typeof minimum === 'string' ? canonicalDcosVersion(minimum) : null,
    rawLength: piece.rawLength,
    deflatedLength: piece.deflated.length,
    crc: piece.crc,
    shift: piece.shift,
  };
  return { row, deflated: piece.deflated };
}

/**
 * Many entries, a few at a time, so the event loop gets a turn between them (how long a turn still
 * takes is measured by `npm run bench:index`, not promised here).
 */
export async function entryPiecesOf(entries: readonly JsonObject[]): Promise<EntryPiece[]> {
  const pieces: EntryPiece[] = [];
  for (let start = 0; start < entries.length; start += 8) {
    pieces.push(...(await Promise.all(entries.slice(start, start + 8).map((entry) => entryPieceOf(entry)))));
  }
  return pieces;
}
