/**
 * sendBody stops reading the stored body when the client goes away mid-response (a wait for
 * 'drain' alone never ends then, and the object would stay open), and sends it whole otherwise.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { sendBody } from '../../../lib/server/send-body.ts';

function serve(body: () => AsyncIterable<Uint8Array>): Promise<{ url: string; done: Promise<void>; close: () => void }> {
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const server = http.createServer((_request, response) => {
    response.writeHead(200);
    void sendBody(response, body()).then(finished);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, done, close: () => server.close() })),
  );
}

describe('sendBody', () => {
  it('sends every chunk and ends the response', async () => {
    const chunk = Buffer.alloc(256 * 1024, 7);
    const server = await serve(async function* () {
      for (let index = 0; index < 40; index++) yield chunk;
    });
    const response = await fetch(server.url);
    assert.equal((await response.arrayBuffer()).byteLength, 40 * chunk.length);
    await server.done;
    server.close();
  });

  it('stops reading the body when the client disconnects while it waits for the socket to drain', async () => {
    let released = false;
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const server = await serve(async function* () {
      try {
        for (;;) yield chunk; // far more than any socket buffer: the writer must wait for 'drain'
      } finally {
        released = true;
      }
    });
    const request = http.get(server.url, (response) => {
      response.once('data', () => request.destroy()); // read a little, then go away without reading on
    });
    request.on('error', () => undefined);
    const outcome = await Promise.race([server.done.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5000))]);
    assert.equal(outcome, 'ended', 'sendBody returns once the client is gone');
    assert.equal(released, true, 'the body was told to stop (its finally ran)');
    server.close();
  });
});
