/**
 * The middlewares every HTTP function shares (middy): a logger per request carrying its request
 * id, the error envelope, and authentication for management routes.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Metrics } from '../ports/metrics.ts';
import type { Logger } from '../support/logger.ts';
import { isPullToken } from '../auth/bearer-tokens.ts';
import { grants, type RequiredScope, type Scope } from '../auth/scopes.ts';
import { ForbiddenError } from '../registry/registry-errors.ts';
import { authorize, bearerToken, FORWARDING_HEADERS, type AuthPolicy } from './auth.ts';
import { requiredScopeOf, takesCapability } from './routes.ts';
import { header, type HttpEvent, type HttpResult } from './api-gateway.ts';
import { ERROR_MEDIA_TYPE, errorResponse } from './error-envelope.ts';

export interface RequestScope {
  readonly log: Logger;
  readonly requestId: string;
  /** Who called: a token fingerprint, a loopback address, or `anonymous` (a public route). */
  actor: string;
  /** The scope the caller was granted (`public`: no credential was needed or checked). */
  actorScope: Scope | 'public';
}

type Handler = (event: HttpEvent, scope: RequestScope) => Promise<HttpResult>;

export interface HttpHandlerOptions {
  readonly log: Logger;
  readonly metrics?: Metrics;
  /** Checked before the handler runs, against the scope the route table gives the route. */
  readonly auth?: AuthPolicy;
  /** The Docker token flow (the registry function): pull tokens it accepts, the challenge it sends. */
  readonly pullTokens?: PullTokens;
}

export interface PullTokens {
  /** Who a pull token (lib/auth/bearer-tokens.ts) was issued to, or throws the 401 to answer. */
  verify(event: HttpEvent, token: string): Promise<{ actor: string }>;
  /** The headers of a 401 on this request (with reads protected). */
  challenge(event: HttpEvent, error: unknown): Record<string, string>;
}

/** A capability URL's token, as a bearer credential (undefined when its segment does not decode). */
function capabilityCredential(event: HttpEvent): string | undefined {
  try {
    return `Bearer ${decodeURIComponent(event.pathParameters?.capability ?? '')}`;
  } catch {
    return undefined;
  }
}

/** What a route needs of this deployment's callers: `read` routes are public unless reads are protected. */
function effectiveScope(routeKey: string, auth: AuthPolicy): RequiredScope {
  const required = requiredScopeOf(routeKey);
  return required === 'read' && !auth.readProtected ? 'public' : required;
}

/**
 * How a refused caller is told to authenticate: reads (Cosmos, Docker clients, browsers) with
 * Basic credentials, which every one of them can send; management with a bearer token.
 */
function challengeHeaders(routeKey: string): Record<string, string> {
  if (requiredScopeOf(routeKey) !== 'read') return { 'www-authenticate': 'Bearer realm="dcos-registry"' };
  return {
    'www-authenticate': 'Basic realm="dcos-registry", charset="UTF-8"',
    // Docker clients read this header on the /v2/ check, a 401 included.
    ...(routeKey.includes(' /v2') ? { 'docker-distribution-api-version': 'registry/2.0' } : {}),
  };
}

/** Wraps a route handler with logging, error envelopes and (if given) authentication. */
export function httpHandler(handler: Handler, options: HttpHandlerOptions) {
  const scopes = new WeakMap<HttpEvent, RequestScope & { started: number }>();
  const measure = (route: string, status: number, seconds: number): void => {
    options.metrics?.count('registry_http_requests_total', { route, status: String(status) });
    options.metrics?.observe('registry_http_request_duration_seconds', seconds, { route });
  };
  return middy<HttpEvent, HttpResult, Error, Context>()
    .use({
      before: async function requestScopeMiddlewareBefore(request) {
        const requestId = request.event.requestContext?.requestId ?? request.context?.awsRequestId ?? 'local';
        const scope = {
          requestId,
          started: Date.now(),
          actor: 'anonymous',
          actorScope: 'public' as Scope | 'public',
          log: options.log.child({ requestId, route: request.event.routeKey }),
        };
        scopes.set(request.event, scope);
        if (options.auth) {
          const required = effectiveScope(request.event.routeKey, options.auth);
          const authorization = takesCapability(request.event.routeKey) ? capabilityCredential(request.event) : header(request.event, 'authorization');
          const bearer = bearerToken(authorization);
          if (required !== 'public' && options.pullTokens && bearer !== undefined && isPullToken(bearer)) {
            // A pull token grants read, and only the repositories it names (checked by verify).
            if (!grants('read', required)) throw new ForbiddenError('A pull token only reads images', { required });
            scope.actor = (await options.pullTokens.verify(request.event, bearer)).actor;
            scope.actorScope = 'read';
          } else {
            const forwarded = FORWARDING_HEADERS.some((name) => header(request.event, name) !== undefined);
            const caller = await authorize(options.auth, authorization, request.event.requestContext?.http?.sourceIp, required, { forwarded });
            scope.actor = caller.actor;
            scope.actorScope = caller.scope;
          }
        }
      },
      after: async function requestScopeMiddlewareAfter(request) {
        const scope = scopes.get(request.event);
        const seconds = (Date.now() - (scope?.started ?? Date.now())) / 1000;
        scope?.log.info('request', { status: request.response?.statusCode, ms: Math.round(seconds * 1000) });
        measure(request.event.routeKey, request.response?.statusCode ?? 200, seconds);
      },
      onError: async function requestScopeMiddlewareOnError(request) {
        const scope = scopes.get(request.event);
        const { status, envelope, exposed } = errorResponse(request.error);
        measure(request.event.routeKey, status, (Date.now() - (scope?.started ?? Date.now())) / 1000);
        if (exposed) scope?.log.info('request refused', { status, type: envelope.type });
        else scope?.log.error('request failed', { status, error: request.error });
        request.response = {
          statusCode: status,
          headers: {
            'content-type': ERROR_MEDIA_TYPE,
            ...(status === 401 ? (options.pullTokens && options.auth?.readProtected ? options.pullTokens.challenge(request.event, request.error) : challengeHeaders(request.event.routeKey)) : {}),
          },
          body: JSON.stringify(envelope),
        };
      },
    })
    .handler(async (event) => {
      const scope = scopes.get(event)!;
      return handler(event, scope);
    });
}
