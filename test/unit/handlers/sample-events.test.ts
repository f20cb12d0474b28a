/**
 * The function handlers, fed the sample events of events/ exactly as AWS would deliver them, over
 * a filesystem store and an in-process queue.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FsObjectStore } from '../../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../../lib/adapters/job-queue/in-process-job-queue.ts';
import type { HandlerDependencies } from '../../../lib/handlers/dependencies.ts';
import { makeIndexerHandler, makeUnpackHandler, storeKeyOfEventKey } from '../../../lib/handlers/event-handlers.ts';
import { makeDescribeHandler } from '../../../lib/handlers/management-handlers.ts';
import { makeRepoHandler } from '../../../lib/handlers/read-handlers.ts';
import { staticTokens } from '../../../lib/http/auth.ts';
import { parseTokenEntries } from '../../../lib/auth/token-entries.ts';
import { DEFAULT_SETTINGS } from '../../../lib/registry/context.ts';
import { lambdaContext } from '../../../lib/server/api-gateway-bridge.ts';
import { silentLogger } from '../../../lib/support/logger.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

const sample = async <T>(path: string): Promise<T> => JSON.parse(await readFile(new URL(`../../../events/${path}`, import.meta.url), 'utf8')) as T;

async function dependencies(): Promise<HandlerDependencies> {
  return {
    context: {
      store: new FsObjectStore(await temporaryDirectory()),
      queue: new InProcessJobQueue(silentLogger),
      settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'https://registry.example.com' },
      log: silentLogger,
      now: () => new Date(),
    },
    auth: staticTokens(parseTokenEntries('sample-token'), { loopbackWithoutToken: false }),
    keyPrefix: '',
    triggerIngest: async () => undefined,
  };
}

describe('handlers on the sample events', () => {
  it('repo: an empty v5 repository, gzip, for Cosmos', async () => {
    const handler = makeRepoHandler(await dependencies());
    const result = (await handler(await sample<APIGatewayProxyEventV2>('apigw/get-repo.json'), lambdaContext('repo'))) as APIGatewayProxyStructuredResultV2;
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers?.['content-type'], 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5');
    assert.equal(result.headers?.['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(Buffer.from(result.body ?? '', 'base64')).toString()), { packages: [] });
  });

  it('describe: 404 VersionNotFound in the Cosmos envelope', async () => {
    const handler = makeDescribeHandler(await dependencies());
    const result = (await handler(await sample<APIGatewayProxyEventV2>('apigw/describe-unknown.json'), lambdaContext('describe'))) as APIGatewayProxyStructuredResultV2;
    assert.equal(result.statusCode, 404);
    assert.equal(result.headers?.['content-type'], 'application/vnd.dcos.package.error+json;charset=utf-8;version=v1');
    assert.deepEqual(JSON.parse(result.body ?? ''), {
      type: 'VersionNotFound',
      message: 'Version [world] of package [hello] not found',
      data: { packageName: 'hello', packageVersion: 'world' },
    });
  });

  it('unpack: decodes the event key and ignores a bundle that is gone', async () => {
    assert.equal(storeKeyOfEventKey('drop/not+there.dcos', ''), 'drop/not there.dcos');
    assert.equal(storeKeyOfEventKey('registry/uploads/x.dcos', 'registry'), 'uploads/x.dcos');
    assert.equal(storeKeyOfEventKey('other/uploads/x.dcos', 'registry'), undefined);
    const handler = makeUnpackHandler(await dependencies());
    const event = await sample<S3Event>('s3/object-created-drop.json');
    // A key with a space (S3 encodes it as '+'), of a bundle already gone: ignored, not retried.
    const outcomes = await handler(event, lambdaContext('unpack') as Context);
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.outcome, 'ignored');
  });

  it('indexer: handles the reindex job and reports the unreadable one as a batch item failure', async () => {
    const deps = await dependencies();
    const handler = makeIndexerHandler(deps);
    const response = (await handler(await sample<SQSEvent>('sqs/reindex-batch.json'), lambdaContext('indexer') as Context)) as SQSBatchResponse;
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' }]);
    const index = await deps.context.store.head('index/repo.json.gz');
    assert.equal(index?.metadata.entries, '0', 'the reindex published an empty, valid index');
  });
});
