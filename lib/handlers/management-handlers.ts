/** The management functions (authenticated): upload, describe (and list), remove, admin. */
import { json, jsonBody, pathParameter } from '../http/api-gateway.ts';
import { httpHandler } from '../http/middleware.ts';
import { recordAudit } from '../registry/audit.ts';
import { describePackage } from '../registry/records.ts';
import { describeVersion, requestRemoval } from '../registry/packages.ts';
import type { PackageRecord } from '../registry/records.ts';
import { readCatalogPage } from '../registry/catalog/package-catalog.ts';
import { fsck } from '../registry/maintenance/fsck.ts';
import { collectGarbage } from '../registry/maintenance/garbage-collector.ts';
import { reconcile } from '../registry/maintenance/reconciler.ts';
import { reindex } from '../registry/publisher.ts';
import { InvalidRequestError } from '../registry/registry-errors.ts';
import { completeUpload, createUpload, getUpload, getUploadVersion, parseCompletion, parseUploadRequest } from '../registry/uploads.ts';
import type { HandlerDependencies } from './dependencies.ts';
import { watchedJson } from './watched-json.ts';

export function makeUploadHandler(dependencies: HandlerDependencies) {
  const { context, auth } = dependencies;
  return httpHandler(
    async (event, scope) => {
      switch (event.routeKey) {
        case 'POST /v1/uploads': {
          const ticket = await createUpload(context, parseUploadRequest(jsonBody(event)), scope.actor);
          await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'upload.create', outcome: 'ok', uploadId: ticket.uploadId });
          return json(201, ticket);
        }
        case 'GET /v1/uploads/{uploadId}': {
          const uploadId = pathParameter(event, 'uploadId');
          return watchedJson(event, context, () => getUploadVersion(context, uploadId), (record) => record);
        }
        case 'POST /v1/uploads/{uploadId}/complete': {
          const { record, bundleKey, present } = await completeUpload(context, pathParameter(event, 'uploadId'), parseCompletion(jsonBody(event)));
          // The registry may have taken the bundle already (the store's event beat this call, and
          // ingest deletes the bundle once it is done): then the record tells the true state.
          if (!present && record.status === 'Uploading') throw new InvalidRequestError(`Upload [${record.uploadId}] has no bundle yet: PUT the bytes first`, { uploadId: record.uploadId });
          if (record.status === 'Uploading') await dependencies.triggerIngest(bundleKey);
          await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'upload.complete', outcome: 'ok', uploadId: record.uploadId });
          return json(202, await getUpload(context, record.uploadId));
        }
        default:
          throw new InvalidRequestError(`No such route: ${event.routeKey}`);
      }
    },
    { log: context.log, auth, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}

/** `?limit=`: digits only (the range is the catalog's to judge). */
function pageLimit(value: string): number {
  if (!/^[0-9]{1,7}$/.test(value)) throw new InvalidRequestError('limit must be a whole number', { limit: value.slice(0, 20) });
  return Number(value);
}

export function makeDescribeHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event, scope) => {
      if (event.routeKey === 'GET /v1/packages') {
        const query = event.queryStringParameters ?? {};
        const page = await readCatalogPage(context, {
          ...(query.name !== undefined ? { name: query.name } : {}),
          ...(query.limit !== undefined ? { limit: pageLimit(query.limit) } : {}),
          ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
        });
        await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'package.list', outcome: 'ok' });
        return json(200, page);
      }
      const target = { name: pathParameter(event, 'name'), version: pathParameter(event, 'version') };
      try {
        let described: PackageRecord | undefined;
        const result = await watchedJson(
          event,
          context,
          async () => {
            const version = await describeVersion(context, target.name, target.version);
            described = version.value;
            return version;
          },
          describePackage,
        );
        await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'package.describe', outcome: 'ok', package: target, ...(described ? { contentDigest: described.contentDigest } : {}) });
        return result;
      } catch (error) {
        await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'package.describe', outcome: 'refused', package: target, reason: (error as Error).message });
        throw error;
      }
    },
    { log: context.log, auth, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}

export function makeRemoveHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event, scope) => {
      const target = { name: pathParameter(event, 'name'), version: pathParameter(event, 'version') };
      try {
        const record = await requestRemoval(context, target.name, target.version);
        await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'package.remove', outcome: 'ok', package: target, contentDigest: record.contentDigest });
        return json(202, { name: record.name, version: record.version, status: record.status });
      } catch (error) {
        await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: 'package.remove', outcome: 'refused', package: target, reason: (error as Error).message });
        throw error;
      }
    },
    { log: context.log, auth, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}

/** fsck, reindex, gc and reconcile on demand: each runs in the request and answers its report. */
export function makeAdminHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event, scope) => {
      const action = event.routeKey.slice('POST /v1/admin/'.length);
      let report: object;
      switch (event.routeKey) {
        case 'POST /v1/admin/fsck': {
          const body = jsonBody(event) as { repair?: unknown } | undefined;
          if (body !== undefined && body !== null && (typeof body !== 'object' || (body.repair !== undefined && typeof body.repair !== 'boolean'))) {
            throw new InvalidRequestError('The body must be {"repair": true|false}', { field: 'repair' });
          }
          report = await fsck(context, { repair: body?.repair === true });
          break;
        }
        case 'POST /v1/admin/reindex':
          report = await reindex(context);
          break;
        case 'POST /v1/admin/gc':
          report = await collectGarbage(context);
          break;
        case 'POST /v1/admin/reconcile':
          report = await reconcile(context);
          break;
        default:
          throw new InvalidRequestError(`No such route: ${event.routeKey}`);
      }
      await recordAudit(context, { actor: scope.actor, scope: scope.actorScope, action: `admin.${action}`, outcome: 'ok' });
      return json(200, report);
    },
    { log: context.log, auth, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}
