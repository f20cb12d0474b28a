// GET /v1/packages and GET /v1/packages/{name}/{version}.
import { runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../lib/config/lambda-queue.ts';
import { makeDescribeHandler } from '../lib/handlers/management-handlers.ts';

export const handler = makeDescribeHandler(runtimeDependencies(sqsQueue));
