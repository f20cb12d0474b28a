/**
 * review12: "management from loopback only must not trust a reverse proxy on the same host"
 * (issue 12, item 4). The server closes management when HOST is not loopback, but the usual
 * reverse-proxy setup is the other one: the proxy listens publicly and forwards to the registry
 * on 127.0.0.1. Every caller then arrives from loopback, and with no token configured every
 * internet caller gets admin. The proxy even says so (X-Forwarded-For / Forwarded / Via), and the
 * registry does not look. Here a proxy of a dozen lines, as nginx's proxy_pass would be.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';

function reverseProxy(target: string): Promise<Server> {
  const server = createServer((incoming, outgoing) => {
    const upstream = request(new URL(incoming.url ?? '/', target), {
      method: incoming.method,
      headers: { ...incoming.headers, 'x-forwarded-for': '203.0.113.7', forwarded: 'for=203.0.113.7;proto=https', via: '1.1 proxy' },
    }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    incoming.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('review12: no token, a reverse proxy on the same host', { timeout: 30_000 }, () => {
  it('a caller forwarded by a proxy is not given loopback management', async () => {
    const registry = await startEmbeddedRegistry({ tokens: '', env: { HOST: '127.0.0.1' } });
    const proxy = await reverseProxy(registry.url);
    try {
      const through = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const response = await fetch(`${through}/v1/admin/reindex`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const text = await response.text();
      assert.equal(response.status, 401, `a forwarded (internet) caller ran admin reindex: ${response.status} ${text.slice(0, 200)}`);
    } finally {
      proxy.close();
      await registry.close();
    }
  });
});
