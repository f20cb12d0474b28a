/**
 * API Gateway HTTP API (payload v2) events in and results out. Only handlers and the embedded
 * server import this; the domain knows nothing of Lambda.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { readAllBytes } from '../ports/object-store.ts';
import type { Reply } from '../registry/serve.ts';
import { InvalidRequestError } from '../registry/registry-errors.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export function pathParameter(event: HttpEvent, name: string): string {
  const value = event.pathParameters?.[name];
  if (value === undefined) throw new InvalidRequestError(`Missing path parameter ${name}`);
  // API Gateway passes path parameters percent-encoded; decode once.
  try {
    return decodeURIComponent(value);
  } catch {
    throw new InvalidRequestError(`Path parameter ${name} is not valid percent-encoding`);
  }
}

export function jsonBody(event: HttpEvent): unknown {
  if (!event.body) return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON');
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Where a result carries a body to stream instead of `body` (hosts that set `streamResponses`):
 * a symbol, so the result stays a plain API Gateway result to everything else.
 */
export const STREAMED_BODY = Symbol.for('dcos-registry.streamed-body');
export type StreamingResult = HttpResult & { [STREAMED_BODY]?: AsyncIterable<Uint8Array> };

export async function fromReply(reply: Reply, options: { stream: boolean } = { stream: false }): Promise<HttpResult> {
  switch (reply.kind) {
    case 'body':
      return { statusCode: reply.status, headers: { ...reply.headers }, body: reply.body.toString('base64'), isBase64Encoded: true };
    case 'stream': {
      if (options.stream) {
        const result: StreamingResult = { statusCode: reply.status, headers: { ...reply.headers }, body: '' };
        result[STREAMED_BODY] = reply.body;
        return result;
      }
      return { statusCode: reply.status, headers: { ...reply.headers }, body: (await readAllBytes(reply.body)).toString('base64'), isBase64Encoded: true };
    }
    case 'redirect':
      return { statusCode: 307, headers: { location: reply.location, ...reply.headers }, body: '' };
    case 'not-modified':
      return { statusCode: 304, headers: reply.headers, body: '' };
  }
}
