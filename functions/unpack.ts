// S3 ObjectCreated on uploads/ and drop/: validate a bundle, store its content, queue its publication.
import { runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../lib/config/lambda-queue.ts';
import { makeUnpackHandler } from '../lib/handlers/event-handlers.ts';

export const handler = makeUnpackHandler(runtimeDependencies(sqsQueue));
