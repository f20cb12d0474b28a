/**
 * review12b (found while checking the capability grants in serverless.yml; older than issue 12):
 * the read functions' role may GetObject only index/repo.json.gz, resources/*, docker/* and
 * index/capability/*. The repo function also reads index/repo-v4.json.gz and index/repo-v3.json.gz
 * (openRepositoryView for a v4/v3 Accept) and presigns index/views/<table>/<media>-<view>.json.gz
 * (a DC/OS-version view too large to answer inline, lib/registry/serve.ts): a URL presigned by a
 * role without GetObject on the key is refused by S3 (403), and a get is AccessDenied (500).
 * The capability view of a v4/v3 or prefix view reads those objects too.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { mediaObjectKey, indexViewKey } from '../../lib/registry/layout.ts';

describe('review12b: the read role can read every object the read functions read or presign', () => {
  it('grants GetObject on the v4/v3 media objects and the stored views', async () => {
    const yml = await readFile(new URL('../../serverless.yml', import.meta.url), 'utf8');
    const role = /\n {4}ReadRole:\n([\s\S]*?)\n {4}[A-Z]\w+:\n/.exec(yml)?.[1] ?? '';
    const granted = [...role.matchAll(/arn:aws:s3:::\$\{param:bucketName\}\/([^'\s]+)/g)].map((m) => m[1]!);
    const covers = (key: string): boolean => granted.some((pattern) => (pattern.endsWith('*') ? key.startsWith(pattern.slice(0, -1)) : key === pattern));
    const needed = [mediaObjectKey('v5'), mediaObjectKey('v4'), mediaObjectKey('v3'), indexViewKey('0123abcd', 'v5', '2.1'), 'index/capability/0123456789ab/x/y.json.gz'];
    const missing = needed.filter((key) => !covers(key));
    assert.deepEqual(missing, [], `ReadRole grants GetObject on ${granted.join(', ')}`);
  });
});
