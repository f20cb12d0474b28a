/**
 * Attack: the HTTP contract edges: If-None-Match lists / weak / "*", Accept with q=0, DC/OS
 * version forms in the User-Agent, Accept-Encoding forms.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dcosVersionFromUserAgent, negotiateRepoVersion, serveRepository } from '../../lib/registry/serve.ts';
import { add, contextOf, entry, newStore } from './review9-helpers.ts';

describe('http contract edges', () => {
  it('If-None-Match: list, weak form, and *', async () => {
    const { store } = await newStore();
    await add(store, entry('pkg-a', '4.0', 1, '1.10'));
    await add(store, entry('pkg-b', '4.0', 2, '2.1'));
    const context = contextOf(store, { streamResponses: true });
    const req = (ifNoneMatch?: string) => serveRepository(context, { accept: undefined, acceptEncoding: 'gzip', userAgent: 'cosmos/0.4 dcos/1.10.4-rc1', ifNoneMatch });
    const first = await req();
    const etag = (first as { headers: Record<string, string> }).headers.etag!;
    const results = {
      list: (await req(`"nope", ${etag}`)).kind,
      weak: (await req(`W/${etag}`)).kind,
      star: (await req('*')).kind,
    };
    assert.deepEqual(results, { list: 'not-modified', weak: 'not-modified', star: 'not-modified' });
  });

  it('Accept with q=0 for v5 is not answered with v5', () => {
    assert.equal(negotiateRepoVersion('application/vnd.dcos.universe.repo+json;version=v5;q=0, application/vnd.dcos.universe.repo+json;version=v4'), 'v4');
  });

  it('User-Agent DC/OS version forms', () => {
    assert.deepEqual(
      ['cosmos/0.4 dcos/1.10.4-rc1', 'cosmos/0.4 dcos/2', 'Cosmos/0.6 DCOS/2.1.0', 'cosmos/0.6 dcos/1.13-dev'].map(dcosVersionFromUserAgent),
      ['1.10', '2', '2.1', '1.13'],
    );
  });

  it('Accept-Encoding forms that allow gzip get gzip', async () => {
    const { store } = await newStore();
    await add(store, entry('pkg-a', '4.0', 1, '1.10'));
    const context = contextOf(store, { streamResponses: true });
    const out: Record<string, boolean> = {};
    for (const ae of ['gzip', 'deflate, gzip;q=1.0', 'gzip;q=0.5', '*', 'x-gzip', 'br;q=1, gzip;q=0.8, *;q=0.1', 'gzip;q=0', 'identity']) {
      const reply = await serveRepository(context, { accept: undefined, acceptEncoding: ae, userAgent: undefined, ifNoneMatch: undefined });
      out[ae] = (reply as { headers: Record<string, string> }).headers['content-encoding'] === 'gzip';
    }
    assert.deepEqual(out, { gzip: true, 'deflate, gzip;q=1.0': true, 'gzip;q=0.5': true, '*': true, 'x-gzip': true, 'br;q=1, gzip;q=0.8, *;q=0.1': true, 'gzip;q=0': false, identity: false });
  });
});
