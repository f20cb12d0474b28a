// GET /resource/{coordinate}/{digest}/{filename}: package assets, inline or via a presigned URL.
import { queuesNothing, runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { makeResourceHandler } from '../lib/handlers/read-handlers.ts';

export const handler = makeResourceHandler(runtimeDependencies(queuesNothing));
