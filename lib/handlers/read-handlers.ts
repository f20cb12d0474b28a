/** The public read functions: health, repo (the index Cosmos reads) and resource. */
import { fromReply, header, json, pathParameter, type HttpEvent } from '../http/api-gateway.ts';
import { tokenFingerprint } from '../http/auth.ts';
import { isCapabilityToken } from '../auth/token-entries.ts';
import { InvalidRequestError } from '../registry/registry-errors.ts';
import { answerTokenRequest, checkPullToken, dockerChallenge, PullTokenRefused } from '../registry/pull-tokens.ts';
import { httpHandler } from '../http/middleware.ts';
import { checkHealth, serveRepository, serveResource } from '../registry/serve.ts';
import { serveDistribution } from '../registry/serve-images.ts';
import type { HandlerDependencies } from './dependencies.ts';

export function makeHealthHandler({ context }: HandlerDependencies) {
  return httpHandler(async () => {
    const report = await checkHealth(context);
    return json(report.healthy ? 200 : 503, report.body);
  }, { log: context.log, ...(context.metrics ? { metrics: context.metrics } : {}) });
}

export function makeRepoHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event) =>
      fromReply(
        await serveRepository(context, {
          accept: header(event, 'accept'),
          acceptEncoding: header(event, 'accept-encoding'),
          userAgent: header(event, 'user-agent'),
          ifNoneMatch: header(event, 'if-none-match'),
          // Checked by the middleware before this runs. With reads public the plain view serves (its
          // resources need no token): nothing is made or stored for whatever segment is sent.
          ...(event.routeKey === 'GET /c/{capability}/repo' && auth.readProtected ? { capability: capabilityOf(event) } : {}),
        }),
        { stream: context.settings.streamResponses },
      ),
    { log: context.log, auth, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}

/**
 * The capability segment (it goes back into the URLs of /repo as it came) and its token's
 * fingerprint. Only a token of the characters a generated one has: nothing in it is encoded, so
 * the segment is the token.
 */
function capabilityOf(event: HttpEvent): { encoded: string; fingerprint: string } {
  const encoded = event.pathParameters?.capability ?? '';
  if (!isCapabilityToken(encoded)) throw new InvalidRequestError('A capability URL takes a token of letters, digits and -._~ only (dcos-registry token create makes one)');
  return { encoded, fingerprint: tokenFingerprint(encoded) };
}

export function makeResourceHandler({ context, auth }: HandlerDependencies) {
  return httpHandler(
    async (event) =>
      fromReply(
        await serveResource(
          context,
          pathParameter(event, 'coordinate'),
          // Kept raw: `sha256%3A<hex>` and `sha256:<hex>` are both accepted (Cosmos, spec §4.4).
          event.pathParameters?.digest ?? '',
          pathParameter(event, 'filename'),
          header(event, 'range'),
          { shared: !auth.readProtected },
        ),
        { stream: context.settings.streamResponses },
      ),
    { log: context.log, auth, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}

/** The Docker Registry API v2 (`/v2/…`), read-only, and its token endpoint. */
export function makeRegistryHandler({ context, auth }: HandlerDependencies) {
  const pullTokens = {
    verify: async (event: HttpEvent, token: string) => {
      // A pull token buys images only, never another token: the token endpoint wants a configured token.
      if (event.routeKey === 'GET /v2/token') throw new PullTokenRefused('A pull token cannot obtain another: send the read token (Basic) to /v2/token', 'invalid_token');
      return checkPullToken(context, token, event.pathParameters?.proxy ?? '', await auth.entries());
    },
    challenge: (event: HttpEvent, error: unknown): Record<string, string> =>
      // The token endpoint itself takes Basic credentials.
      event.routeKey === 'GET /v2/token'
        ? { 'www-authenticate': 'Basic realm="dcos-registry", charset="UTF-8"' }
        : dockerChallenge(context, event.pathParameters?.proxy ?? '', error instanceof PullTokenRefused ? error : undefined),
  };
  return httpHandler(
    async (event, scope) =>
      event.routeKey === 'GET /v2/token'
        ? json(200, await answerTokenRequest(context, scope.actor, event.rawQueryString ?? ''))
        : fromReply(
        await serveDistribution(context, {
          method: event.requestContext.http.method,
          path: event.pathParameters?.proxy ?? '',
          query: event.queryStringParameters ?? {},
          ...(header(event, 'range') !== undefined ? { range: header(event, 'range')! } : {}),
        }),
        { stream: context.settings.streamResponses },
      ),
    { log: context.log, auth, pullTokens, ...(context.metrics ? { metrics: context.metrics } : {}) },
  );
}
