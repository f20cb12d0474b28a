// The FIFO queue's consumer: the single writer of the published index.
import { runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../lib/config/lambda-queue.ts';
import { makeIndexerHandler } from '../lib/handlers/event-handlers.ts';

export const handler = makeIndexerHandler(runtimeDependencies(sqsQueue));
