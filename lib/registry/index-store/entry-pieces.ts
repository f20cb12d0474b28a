/** One repository entry turned into what the index is assembled from: its row and its compressed bytes. */
import { RegistryError } from '../../domain/errors.ts';
import { schemaErrors } from '../../universe/schema-registry.ts';
import type { JsonObject } from '../../universe/package-model.ts';
import { TurnBudget } from '../../support/turns.ts';
import { deflatePiece } from './gzip-segments.ts';
import { canonicalDcosVersion, type IndexRow } from './index-table.ts';
import type { EntryPiece } from './repository-object.ts';

/** What validating and serialising an entry gives (on this thread), before its compression (on the pool). */
function checkedEntryBytes(entry: JsonObject, validate: boolean): Buffer {
  const errors = validate ? schemaErrors('v5-repo', { packages: [entry] }) : [];
  if (errors.length > 0) {
    throw new RegistryError('InvalidIndex', `The repository would not be valid, so it was not published:\n  ${errors.join('\n  ')}`, { errors }, { source: 'internal' });
  }
  return Buffer.from(JSON.stringify(entry));
}

async function pieceOfBytes(entry: JsonObject, raw: Buffer): Promise<EntryPiece> {
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
 * Validates `entry` as a v5 repository entry and compresses it (on the thread pool). Validation
 * covers this entry alone: the others were validated when they were published.
 */
export async function entryPieceOf(entry: JsonObject, options: { validate: boolean } = { validate: true }): Promise<EntryPiece> {
  return pieceOfBytes(entry, checkedEntryBytes(entry, options.validate));
}

/** Compressions in flight at once: enough to keep the thread pool (4 threads) busy. */
const COMPRESSIONS_IN_FLIGHT = 8;

/**
 * Many entries (each made by `entryOf` when its turn comes, so only those in flight are held),
 * validated one at a time in slices of the event loop's time (an entry's validation took up to
 * 15 ms; eight at once held /health for 100 ms at a reindex), compressed a few at a time on the
 * pool. In the order given.
 */
export async function entryPiecesOf<T>(items: readonly T[], entryOf: (item: T) => JsonObject): Promise<EntryPiece[]> {
  const pieces: Promise<EntryPiece>[] = [];
  const budget = new TurnBudget();
  for (let index = 0; index < items.length; index++) {
    await budget.pause();
    if (index >= COMPRESSIONS_IN_FLIGHT) await pieces[index - COMPRESSIONS_IN_FLIGHT];
    const entry = entryOf(items[index]!);
    const piece = pieceOfBytes(entry, checkedEntryBytes(entry, true));
    // Awaited below, in order; a rejection is not left unhandled meanwhile.
    piece.catch(() => undefined);
    pieces.push(piece);
  }
  return Promise.all(pieces);
}
