/**
 * Writes a body to an HTTP response as it is read, with backpressure, and stops reading when the
 * client goes away (a wait for 'drain' alone would never end then, holding the stored object open).
 * The headers are sent by then: a body that fails midway cuts the response (the client's length
 * or gzip check fails), never completes it with wrong bytes.
 */
import type { ServerResponse } from 'node:http';
import { discardBody } from '../ports/object-store.ts';

export async function sendBody(response: ServerResponse, body: AsyncIterable<Uint8Array>): Promise<void> {
  const chunks = body[Symbol.asyncIterator]();
  // A client gone while a chunk is being read: the body is released at once, not at its next chunk.
  const release = (): void => discardBody(body);
  response.once('close', release);
  // Ends the body both ways: destroyed (a stream), and returned (any async iterator, which then runs its cleanup).
  const stop = async (): Promise<void> => {
    release();
    await chunks.return?.();
  };
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      if (response.destroyed) return await stop();
      if (!response.write(next.value)) await drainedOrClosed(response);
      if (response.destroyed) return await stop();
    }
  } catch (error) {
    release();
    response.destroy(error as Error);
    return;
  } finally {
    response.off('close', release);
  }
  response.end();
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    // Closed already: its 'close' has been and gone.
    if (response.destroyed || response.writableEnded) return resolve();
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
