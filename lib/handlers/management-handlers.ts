/** The management functions (authenticated): upload, describe (and list), remove. */
import { json, jsonBody, pathParameter } from '../http/api-gateway.ts';
import { httpHandler } from '../http/middleware.ts';
import { describePackage } from '../registry/records.ts';
import { describe, listPackages, requestRemoval } from '../registry/packages.ts';
import { InvalidRequestError } from '../registry/registry-errors.ts';
import { completeUpload, createUpload, getUpload, parseCompletion, parseUploadRequest } from '../registry/uploads.ts';
import type { HandlerDependencies } from './dependencies.ts';

export function makeUploadHandler(dependencies: HandlerDependencies) {
  const { context, auth } = dependencies;
  return httpHandler(
    async (event) => {
      switch (event.routeKey) {
        case 'POST /v1/uploads':
          return json(201, await createUpload(context, parseUploadRequest(jsonBody(event))));
        case 'GET /v1/uploads/{uploadId}':
          return json(200, await getUpload(context, pathParameter(event, 'uploadId')));
        case 'POST /v1/uploads/{uploadId}/complete': {
          const { record, bundleKey, present } = await completeUpload(context, pathParameter(event, 'uploadId'), parseCompletion(jsonBody(event)));
          if (!present) throw new InvalidRequestError(`Upload [${record.uploadId}] has no bundle yet: PUT the bytes first`, { uploadId: record.uploadId });
          if (record.status === 'Uploading') await dependencies.triggerIngest(bundleKey);
          return json(202, await getUpload(context, record.uploadId));
        }
        default:
          throw new InvalidRequestError(`No such route: ${event.routeKey}`);
      }
    },
    { log: context.log, auth },
  );
}

export function makeDescribeHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event) => {
      if (event.routeKey === 'GET /v1/packages') {
        const name = event.queryStringParameters?.name;
        const records = await listPackages(context, name === undefined ? {} : { name });
        return json(200, { packages: records.map(describePackage) });
      }
      const record = await describe(context, pathParameter(event, 'name'), pathParameter(event, 'version'));
      return json(200, describePackage(record));
    },
    { log: context.log, auth },
  );
}

export function makeRemoveHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event) => {
      const record = await requestRemoval(context, pathParameter(event, 'name'), pathParameter(event, 'version'));
      return json(202, { name: record.name, version: record.version, status: record.status });
    },
    { log: context.log, auth },
  );
}
