/**
 * The repository as one cluster sees it through its capability URL (`<base>/c/<read token>/repo`,
 * for a Cosmos that sends no credentials while reads are protected): the stored view with every
 * resource URL (`<base>/resource/…`) given the same prefix (`<base>/c/<read token>/resource/…`),
 * so the UI, the CLI and the agents' fetcher reach resources with no credentials either.
 *
 * The stored bytes hold the plain URLs and the token is known only from the request, so this view
 * is made per request: gunzip, replace, gzip, as a stream (the replacement is a byte search that
 * keeps the needle's length less one byte between chunks; zlib runs on the thread pool). Its ETag
 * is the stored view's with the token's fingerprint, so a client that has it gets a 304 with no
 * work. A Lambda, which cannot stream, stores a view too large to answer inline once per index
 * version and token (capability-objects.ts).
 */
import { createGunzip, createGzip } from 'node:zlib';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';

/** A stream transform replacing every occurrence of `from` by `to` (bytes), across chunk boundaries. */
export class ByteReplace extends Transform {
  private carry = Buffer.alloc(0);

  constructor(
    private readonly from: Buffer,
    private readonly to: Buffer,
  ) {
    super();
    if (from.length === 0) throw new Error('nothing to replace');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const parts: Buffer[] = [];
    let start = 0;
    for (let at = data.indexOf(this.from, start); at >= 0; at = data.indexOf(this.from, start)) {
      parts.push(data.subarray(start, at), this.to);
      start = at + this.from.length;
    }
    // What could still be the start of a match is kept for the next chunk.
    const keep = Math.max(start, data.length - (this.from.length - 1));
    parts.push(data.subarray(start, keep));
    this.carry = Buffer.from(data.subarray(keep));
    done(null, Buffer.concat(parts));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.carry);
  }
}

/** The resource URL prefix of the stored index, and the one a capability gives it. */
export function capabilityPrefixes(publicBaseUrl: string, encodedCapability: string): { from: Buffer; to: Buffer } {
  return { from: Buffer.from(`"${publicBaseUrl}/resource/`), to: Buffer.from(`"${publicBaseUrl}/c/${encodedCapability}/resource/`) };
}

/** The stored gzip view, its resource URLs prefixed, gzip again (`gzip: false`: plain JSON). */
export function capabilityBody(storedGzip: AsyncIterable<Buffer>, prefixes: { from: Buffer; to: Buffer }, options: { gzip: boolean }): Readable {
  // pipeline: an error anywhere (a cut read, a corrupt gzip) ends the whole chain and reaches the
  // last stream, whose reader (the response) is then destroyed, never left hanging.
  const ignore = (): void => undefined;
  return options.gzip
    ? pipeline(storedGzip, createGunzip(), new ByteReplace(prefixes.from, prefixes.to), createGzip({ level: 6 }), ignore)
    : pipeline(storedGzip, createGunzip(), new ByteReplace(prefixes.from, prefixes.to), ignore);
}

/** The ETag of a capability view: the stored view's, told apart per token. */
export function capabilityEtag(storedEtag: string, fingerprint: string): string {
  return `"${storedEtag.replace(/^W\//, '').replace(/"/g, '')}-${fingerprint.replace(/^token:/, 'c')}"`;
}
