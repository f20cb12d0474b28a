// DELETE /v1/packages/{name}/{version}.
import { runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../lib/config/lambda-queue.ts';
import { makeRemoveHandler } from '../lib/handlers/management-handlers.ts';

export const handler = makeRemoveHandler(runtimeDependencies(sqsQueue));
