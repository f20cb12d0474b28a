// GET / and GET /health: the registry's health, as DC/OS's Mesos health checks read it.
import { queuesNothing, runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { makeHealthHandler } from '../lib/handlers/read-handlers.ts';

export const handler = makeHealthHandler(runtimeDependencies(queuesNothing));
