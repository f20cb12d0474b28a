/**
 * Attack: minDcosReleaseVersion values equal by comparison but not canonicalised to one string
 * ("1" vs "1.0", "2" vs "2.0": canonicalDcosVersion only drops zeros beyond the second part). Rows
 * sort them as equal and interleave by name, so one object holds several views with the same id.
 * Checks every view (streamed and materialised) against the slow filter, gzip -t, and ETags.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { repositoryVariant, type RepoVersion } from '../../lib/registry/index-document.ts';
import { openRepositoryView } from '../../lib/registry/index-store/index-reader.ts';
import { readPublishedDocument } from '../../lib/registry/index-store/index-writer.ts';
import { parseGzipHeader } from '../../lib/registry/index-store/gzip-segments.ts';
import { parseDescription } from '../../lib/registry/index-store/repository-object.ts';
import { mediaObjectKey } from '../../lib/registry/layout.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { add, contextOf, entry, HOSTS, newStore, readAllBytes } from './review9-helpers.ts';

it('equal thresholds written differently: every view equals the slow filter, materialised ones too', async () => {
  const { store, directory } = await newStore();
  const limit = 1024;
  const hosts = { ...HOSTS, materializeViewsAbove: limit };
  const spec: [string, string, string | undefined][] = [
    ['aa', '4.0', '1'], ['bb', '4.0', '1.0'], ['cc', '4.0', '1'], ['dd', '4.0', '1.0.0'], ['ee', '3.0', '1.0'],
    ['ff', '5.0', '2'], ['gg', '5.0', '2.0'], ['hh', '4.0', '2'], ['ii', '3.0', '1.10'], ['jj', '3.0', '1.10.0'],
    ['kk', '3.0', '0'], ['ll', '2.0', undefined], ['mm', '4.0', '01.9'.replace('0', '')],
  ];
  for (const [i, [name, packaging, min]] of spec.entries()) await add(store, entry(name, packaging, i + 1, min, 600), hosts);
  const full = (await readPublishedDocument(store))!.document;
  const context = contextOf(store, { maxInlineResponseBytes: limit, streamResponses: false });
  const problems: string[] = [];
  for (const media of ['v5', 'v4', 'v3'] as RepoVersion[]) {
    const object = await readAllBytes((await store.get(mediaObjectKey(media))).body);
    const ids = parseDescription(parseGzipHeader(object)!.comment)!.classes.map((view) => view.id);
    if (new Set(ids).size !== ids.length) problems.push(`${media}: duplicate view ids ${ids.join(' ')}`);
    const etags = new Map<string, string>();
    for (const dcos of [undefined, '0', '0.9', '1', '1.0', '1.5', '1.9', '1.10', '1.11', '2', '2.0', '2.1', '3']) {
      const expected = repositoryVariant(full, media, dcos);
      const view = await openRepositoryView(store, media, dcos);
      assert.ok(view && view !== 'legacy');
      const bytes = await readAllBytes(view.body);
      const file = join(directory, `v-${media}-${dcos}.gz`);
      writeFileSync(file, bytes);
      try { execFileSync('gzip', ['-t', file]); } catch { problems.push(`${media} ${dcos}: gzip -t fails`); }
      try { assert.deepEqual(JSON.parse(gunzipSync(bytes).toString()), expected); } catch { problems.push(`${media} ${dcos}: streamed view differs from slow filter`); }
      const key = JSON.stringify(expected.packages.map((p) => p.name).sort());
      if (etags.has(view.etag) && etags.get(view.etag) !== key) problems.push(`${media} ${dcos}: etag ${view.etag} shared by different documents`);
      etags.set(view.etag, key);
      const reply = await serveRepository(context, { accept: `application/vnd.dcos.universe.repo+json;version=${media}`, acceptEncoding: 'gzip', userAgent: dcos ? `cosmos/1 dcos/${dcos}` : undefined, ifNoneMatch: undefined });
      if (reply.kind === 'redirect') {
        const k = decodeURIComponent(new URL(reply.location).pathname.slice(1));
        try {
          const got = JSON.parse(gunzipSync(await readAllBytes((await store.get(k)).body)).toString());
          assert.deepEqual(got, expected);
        } catch (error) { problems.push(`${media} ${dcos}: redirect ${k}: ${(error as Error).message.split('\n')[0]}`); }
      }
    }
  }
  assert.deepEqual(problems, []);
});
