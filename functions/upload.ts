// POST /v1/uploads, GET /v1/uploads/{uploadId}, POST /v1/uploads/{uploadId}/complete.
import { runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../lib/config/lambda-queue.ts';
import { makeUploadHandler } from '../lib/handlers/management-handlers.ts';

export const handler = makeUploadHandler(runtimeDependencies(sqsQueue));
