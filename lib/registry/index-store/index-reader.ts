/**
 * Serving a repository view as stored bytes: one read of the media type's object, its gzip
 * comment says which prefix a client of a DC/OS version gets, and the prefix is streamed followed
 * by a few bytes that close it (repository-object.ts). No JSON parse, no compression, no buffering
 * of the document.
 */
import { bufferView, ObjectNotFoundError, type ObjectStore } from '../../ports/object-store.ts';
import type { RepoVersion } from '../index-document.ts';
import { indexViewKey, mediaObjectKey } from '../layout.ts';
import { parseGzipHeader } from './gzip-segments.ts';
import { CLOSE, COMMA, OPEN, parseDescription, viewFor, viewTail } from './repository-object.ts';

export interface RepositoryView {
  readonly etag: string;
  /** Length of the gzip body. */
  readonly size: number;
  /** Length of the document it decodes to. */
  readonly rawLength: number;
  readonly body: AsyncIterable<Buffer>;
  /** Releases the stored object when the body will not be sent (304, HEAD, redirect). */
  readonly discard: () => void;
  /**
   * An object holding exactly this view's bytes, to hand out by presigned URL: the media type's
   * object when the view is all of it, else the view stored on its own (present only where the
   * writers store views: index-writer.ts, materializeViewsAbove).
   */
  readonly objectKey: string;
  /** Which view: `all`, `floor` or the DC/OS threshold it starts at. */
  readonly view: string;
}

/** A gzip comment longer than this is not one this registry wrote. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * The view of `media` for a client of `dcosVersion`, or undefined when no object is stored;
 * `legacy` when the object predates this layout (it has no views to choose from).
 */
export async function openRepositoryView(store: ObjectStore, media: RepoVersion, dcosVersion: string | undefined): Promise<RepositoryView | 'legacy' | undefined> {
  const key = mediaObjectKey(media);
  let object;
  try {
    object = await store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  const chunks = object.body[Symbol.asyncIterator]();
  const discard = (): void => {
    void chunks.return?.().catch(() => undefined);
  };
  let head: Buffer = Buffer.alloc(0);
  let header;
  try {
    while (!(header = parseGzipHeader(head))) {
      const next = await chunks.next();
      if (next.done || head.length > MAX_HEADER_BYTES) throw new Error(`${key} ends inside its gzip header`);
      // Usually the header is in the first chunk: no copy of it (a cached object is one chunk).
      head = head.length === 0 ? bufferView(next.value) : Buffer.concat([head, bufferView(next.value)]);
    }
  } catch (error) {
    discard();
    throw error;
  }
  const description = parseDescription(header.comment);
  if (!description || header.dataOffset < 0) {
    discard();
    return 'legacy';
  }
  const last = description.classes[description.classes.length - 1]!;
  if (object.size !== header.dataOffset + last.end + viewTail(last).length) {
    // Truncated, or not the object its comment describes: an error, never a 200 with wrong bytes.
    discard();
    throw new Error(`${key} is ${object.size} bytes, not the ${header.dataOffset + last.end + viewTail(last).length} its layout says`);
  }
  const view = viewFor(description.classes, dcosVersion);
  const whole = view === last;
  if (whole) {
    return { etag: object.etag, size: object.size, rawLength: view.length, body: releasable(prepended(head, chunks), discard), discard, objectKey: key, view: 'all' };
  }
  const tail = viewTail(view);
  const prefixLength = header.dataOffset + view.end;
  return {
    // Distinct per view of one stored version: a client's 304 never crosses views.
    etag: `"${object.etag.replace(/^(W\/)?"|"$/g, '')}.${view.id}"`,
    size: prefixLength + tail.length,
    rawLength: view.length,
    body: releasable(prefixThenTail(head, chunks, prefixLength, tail, view.end > OPEN.deflated.length), discard),
    discard,
    objectKey: indexViewKey(description.table, media, view.id),
    view: view.id,
  };
}

/**
 * A body that can be let go without being read (`discardBody`, as a stream is destroyed): an
 * async generator that never started runs no cleanup of its own, and the stored object it was to
 * read would stay open (a HEAD of /repo did that).
 */
function releasable<T extends AsyncIterable<Buffer>>(body: T, discard: () => void): T & { destroy: () => void } {
  return Object.assign(body, { destroy: discard });
}

async function* prepended(head: Buffer, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Buffer> {
  yield head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield bufferView(next.value);
  }
}

/**
 * The view's prefix, then its tail. The bytes right after the prefix in the object must be a
 * separator (the next entry's comma, or the closing bracket): a comment whose offsets are off is
 * caught there, and the response is cut (its length then fails the client's check) rather than
 * closed into a document that is not the index.
 */
async function* prefixThenTail(head: Buffer, rest: AsyncIterator<Uint8Array>, prefixLength: number, tail: Buffer, holdsEntries: boolean): AsyncGenerator<Buffer> {
  let sent = 0;
  let after: Buffer = Buffer.alloc(0);
  try {
    for (let chunk: Buffer | undefined = head; sent < prefixLength; ) {
      if (chunk === undefined) {
        const next = await rest.next();
        if (next.done) throw new Error('the stored index ended before the view did');
        chunk = bufferView(next.value);
      }
      const take = chunk.subarray(0, prefixLength - sent);
      sent += take.length;
      if (sent === prefixLength) after = chunk.subarray(take.length);
      yield take;
      chunk = undefined;
    }
    // A view of no entries ends at the first entry, which no separator precedes.
    while (holdsEntries && after.length < COMMA.deflated.length) {
      const next = await rest.next();
      if (next.done) break;
      after = Buffer.concat([after, bufferView(next.value)]);
    }
    const separator = after.subarray(0, COMMA.deflated.length);
    if (holdsEntries && !separator.equals(COMMA.deflated) && !separator.equals(CLOSE.deflated.subarray(0, COMMA.deflated.length))) {
      throw new Error('the stored index does not hold a separator where its view ends: not sending a wrong document');
    }
  } finally {
    // The rest of the object is not this view's: stop reading it.
    await rest.return?.();
  }
  yield tail;
}

