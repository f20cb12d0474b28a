/**
 * Writes a body to an HTTP response as it is read, with backpressure, and stops reading when the
 * client goes away (a wait for 'drain' alone would never end then, holding the stored object open).
 * The headers are sent by then: a body that fails midway cuts the response (the client's length
 * or gzip check fails), never completes it with wrong bytes.
 */
import type { ServerResponse } from 'node:http';

export async function sendBody(response: ServerResponse, body: AsyncIterable<Uint8Array>): Promise<void> {
  const chunks = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      if (!response.write(next.value)) await drainedOrClosed(response);
      if (response.destroyed) {
        await chunks.return?.();
        return;
      }
    }
  } catch (error) {
    response.destroy(error as Error);
    return;
  }
  response.end();
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
