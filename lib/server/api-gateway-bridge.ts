/**
 * Turns a Node HTTP request into the API Gateway HTTP API (v2) event a Lambda handler receives,
 * and the handler's result back into the HTTP response. Transport only: no route logic here.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Route } from '../http/routes.ts';
import { routeKey } from '../http/routes.ts';
import { STREAMED_BODY, type StreamingResult } from '../http/api-gateway.ts';
import { sendBody } from './send-body.ts';
import { discardBody } from '../ports/object-store.ts';

export function toApiGatewayEvent(
  request: IncomingMessage,
  url: URL,
  route: Route,
  pathParameters: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const method = route.method;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const now = new Date();
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: routeKey(route),
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: 'embedded',
      apiId: 'embedded',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        // The route's method: a HEAD served by a GET route reaches its handler as a GET.
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: routeKey(route),
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}

export function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/embedded/${functionName}`,
    logStreamName: 'embedded',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export async function writeApiGatewayResult(response: ServerResponse, result: APIGatewayProxyStructuredResultV2, headOnly: boolean): Promise<void> {
  const headers: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const streamed = (result as StreamingResult)[STREAMED_BODY];
  if (streamed) {
    response.writeHead(result.statusCode ?? 200, headers);
    if (headOnly) {
      // Destroyed, not asked to return: an iterator that never started runs no cleanup, and the
      // stored object would stay open.
      discardBody(streamed);
      response.end();
      return;
    }
    await sendBody(response, streamed);
    return;
  }
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  // An empty body may come with the length of the body a HEAD answer does not send.
  if (headers['content-length'] === undefined || body.length > 0) headers['content-length'] = body.length;
  response.writeHead(result.statusCode ?? 200, headers);
  response.end(headOnly ? undefined : body);
}
