// GET /repo: the Universe repository that Cosmos reads.
import { queuesNothing, runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { makeRepoHandler } from '../lib/handlers/read-handlers.ts';

export const handler = makeRepoHandler(runtimeDependencies(queuesNothing));
