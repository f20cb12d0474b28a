/**
 * The HTTP front of a process that hosts the Lambda handlers (what API Gateway is on AWS): routes
 * each request by the route table, hands the handler an API Gateway v2 event and writes its
 * result back. `/_store/…` requests (presigned URLs of the filesystem store) go to `storeRequests`.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { HttpFunction } from '../handlers/http-functions.ts';
import { ERROR_MEDIA_TYPE } from '../http/error-envelope.ts';
import { matchRoute, type HttpFunctionName } from '../http/routes.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Logger } from '../support/logger.ts';
import { lambdaContext, toApiGatewayEvent, writeApiGatewayResult } from './api-gateway-bridge.ts';
import { STORE_PATH_PREFIX } from './signed-urls.ts';
import { sendBody } from './send-body.ts';
import { parseByteRange } from '../http/byte-range.ts';
import { announcedLengthProblem, BodyTooLargeError, boundedBody } from './bounded-body.ts';


type StoreRequestHandler = (request: IncomingMessage, response: ServerResponse, url: URL, method: string) => Promise<void>;

/** Management request bodies are small JSON documents (bundles go to presigned URLs). */
const MAX_JSON_BODY = 1024 * 1024;

export function httpFront(functions: Record<HttpFunctionName, HttpFunction>, log: Logger, storeRequests?: StoreRequestHandler): RequestListener {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://front');
    const requested = request.method ?? 'GET';
    if (storeRequests && url.pathname.startsWith(STORE_PATH_PREFIX)) return storeRequests(request, response, url, requested === 'HEAD' ? 'GET' : requested);
    // HEAD goes to a HEAD route where one exists (/v2), else to the GET route with the body dropped.
    let method = requested;
    let matched = matchRoute(method, url.pathname);
    if (requested === 'HEAD' && (!matched || 'methodNotAllowed' in matched)) {
      method = 'GET';
      matched = matchRoute(method, url.pathname);
    }
    if (!matched || 'methodNotAllowed' in matched) {
      const status = matched ? 405 : 404;
      response.writeHead(status, { 'content-type': ERROR_MEDIA_TYPE });
      response.end(
        JSON.stringify({
          type: matched ? 'MethodNotAllowed' : 'NotFound',
          message: `${matched ? 'Method not allowed' : 'No such route'}: ${request.method} ${url.pathname}`,
          data: {},
        }),
      );
      return;
    }
    let body: Buffer;
    try {
      body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(request, MAX_JSON_BODY);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      // Not read further: the connection closes after the answer.
      response.writeHead(413, { 'content-type': ERROR_MEDIA_TYPE, connection: 'close' });
      response.end(JSON.stringify({ type: 'PayloadTooLarge', message: `The request body is larger than the ${MAX_JSON_BODY} bytes a management call takes (bundles go to the upload URL)`, data: { maxBytes: MAX_JSON_BODY } }));
      return;
    }
    const event = toApiGatewayEvent(request, url, matched.route, matched.parameters, body);
    const result = await functions[matched.route.functionName](event, lambdaContext(matched.route.functionName));
    await writeApiGatewayResult(response, result, request.method === 'HEAD');
  };
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      log.error('request failed in transport', { error });
      if (!response.headersSent) response.writeHead(500, { 'content-type': ERROR_MEDIA_TYPE });
      response.end(JSON.stringify({ type: 'InternalError', message: 'The registry failed to handle the request', data: {} }));
    });
  };
}

/** Streams a stored object as an HTTP response, with Content-Length and byte ranges. */
export async function streamStoredObject(
  store: ObjectStore,
  key: string,
  contentType: string | undefined,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const info = await store.head(key);
  if (!info) {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('Not found\n');
    return;
  }
  const range = parseByteRange(request.headers.range, info.size);
  if (range === 'unsatisfiable') {
    response.writeHead(416, { 'content-range': `bytes */${info.size}`, 'accept-ranges': 'bytes' });
    response.end();
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': contentType ?? info.contentType ?? 'application/octet-stream',
    'content-length': range ? range.end - range.start + 1 : info.size,
    'accept-ranges': 'bytes',
    etag: info.etag,
    ...(info.contentEncoding ? { 'content-encoding': info.contentEncoding } : {}),
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${info.size}` } : {}),
  };
  response.writeHead(range ? 206 : 200, headers);
  if (request.method === 'HEAD' || info.size === 0) {
    response.end();
    return;
  }
  const object = range ? await store.get(key, { range }) : await store.get(key);
  await sendBody(response, object.body);
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const early = announcedLengthProblem(request, { max: limit });
  if (early) throw early;
  const chunks: Buffer[] = [];
  for await (const chunk of boundedBody(request as AsyncIterable<Buffer>, { max: limit })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

