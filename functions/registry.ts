// GET|HEAD /v2/…: the read-only Docker Registry API that agents' Docker pulls images from.
import { queuesNothing, runtimeDependencies } from '../lib/config/lambda-dependencies.ts';
import { makeRegistryHandler } from '../lib/handlers/read-handlers.ts';

export const handler = makeRegistryHandler(runtimeDependencies(queuesNothing));
