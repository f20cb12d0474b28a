// POST /v1/admin/{fsck,reindex,gc,reconcile}.
import { runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../lib/config/lambda-queue.ts';
import { makeAdminHandler } from '../lib/handlers/management-handlers.ts';

export const handler = makeAdminHandler(runtimeDependencies(sqsQueue));
