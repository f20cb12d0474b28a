/** Every HTTP function's handler, by function name: what a host (API Gateway stand-in) routes to. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { HttpFunctionName } from '../http/routes.ts';
import type { HandlerDependencies } from './dependencies.ts';
import { makeAdminHandler, makeDescribeHandler, makeRemoveHandler, makeUploadHandler } from './management-handlers.ts';
import { makeHealthHandler, makeRegistryHandler, makeRepoHandler, makeResourceHandler } from './read-handlers.ts';

export type HttpFunction = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export function httpFunctions(dependencies: HandlerDependencies): Record<HttpFunctionName, HttpFunction> {
  return {
    health: makeHealthHandler(dependencies) as HttpFunction,
    repo: makeRepoHandler(dependencies) as HttpFunction,
    resource: makeResourceHandler(dependencies) as HttpFunction,
    upload: makeUploadHandler(dependencies) as HttpFunction,
    describe: makeDescribeHandler(dependencies) as HttpFunction,
    remove: makeRemoveHandler(dependencies) as HttpFunction,
    admin: makeAdminHandler(dependencies) as HttpFunction,
    registry: makeRegistryHandler(dependencies) as HttpFunction,
  };
}
