import type { RequiredScope } from '../auth/scopes.ts';

/**
 * Every HTTP route and the function that serves it. serverless.yml declares the same routes (a
 * test keeps the two equal), and the embedded server routes requests with this table.
 */
export type HttpFunctionName = 'health' | 'repo' | 'resource' | 'upload' | 'describe' | 'remove' | 'admin' | 'registry';

export interface Route {
  readonly functionName: HttpFunctionName;
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  /**
   * What a caller needs (lib/auth/scopes.ts). `read` routes are public unless reads are
   * protected. The Docker API's writes need only `read`: they are refused for everyone (405).
   */
  readonly scope: RequiredScope;
  /** `capability`: the credential is the `{capability}` path segment (a read token), not a header. */
  readonly credential?: 'capability';
}

export const ROUTES: readonly Route[] = [
  { functionName: 'health', method: 'GET', path: '/', scope: 'public' },
  { functionName: 'health', method: 'GET', path: '/health', scope: 'public' },
  { functionName: 'repo', method: 'GET', path: '/repo', scope: 'read' },
  { functionName: 'resource', method: 'GET', path: '/resource/{coordinate}/{digest}/{filename}', scope: 'read' },
  // Capability URLs: the same reads, the read token in the path, for clients that send no
  // credentials (Cosmos, the UI, the agents' fetcher); /repo names its resources under the prefix.
  { functionName: 'repo', method: 'GET', path: '/c/{capability}/repo', scope: 'read', credential: 'capability' },
  { functionName: 'resource', method: 'GET', path: '/c/{capability}/resource/{coordinate}/{digest}/{filename}', scope: 'read', credential: 'capability' },
  { functionName: 'upload', method: 'POST', path: '/v1/uploads', scope: 'write' },
  { functionName: 'upload', method: 'GET', path: '/v1/uploads/{uploadId}', scope: 'write' },
  { functionName: 'upload', method: 'POST', path: '/v1/uploads/{uploadId}/complete', scope: 'write' },
  { functionName: 'describe', method: 'GET', path: '/v1/packages', scope: 'write' },
  { functionName: 'describe', method: 'GET', path: '/v1/packages/{name}/{version}', scope: 'write' },
  { functionName: 'remove', method: 'DELETE', path: '/v1/packages/{name}/{version}', scope: 'write' },
  // Maintenance (management token): run in the request, each answers its report.
  { functionName: 'admin', method: 'POST', path: '/v1/admin/fsck', scope: 'admin' },
  { functionName: 'admin', method: 'POST', path: '/v1/admin/reindex', scope: 'admin' },
  { functionName: 'admin', method: 'POST', path: '/v1/admin/gc', scope: 'admin' },
  { functionName: 'admin', method: 'POST', path: '/v1/admin/reconcile', scope: 'admin' },
  // The Docker Registry API: reads, and writes only to refuse them (405 UNSUPPORTED).
  // The Docker token flow: Basic credentials (a read token) in, a short-lived pull token out.
  { functionName: 'registry', method: 'GET', path: '/v2/token', scope: 'read' },
  { functionName: 'registry', method: 'GET', path: '/v2', scope: 'read' },
  { functionName: 'registry', method: 'HEAD', path: '/v2', scope: 'read' },
  { functionName: 'registry', method: 'GET', path: '/v2/{proxy+}', scope: 'read' },
  { functionName: 'registry', method: 'HEAD', path: '/v2/{proxy+}', scope: 'read' },
  { functionName: 'registry', method: 'PUT', path: '/v2/{proxy+}', scope: 'read' },
  { functionName: 'registry', method: 'POST', path: '/v2/{proxy+}', scope: 'read' },
  { functionName: 'registry', method: 'PATCH', path: '/v2/{proxy+}', scope: 'read' },
  { functionName: 'registry', method: 'DELETE', path: '/v2/{proxy+}', scope: 'read' },
];

export const routeKey = (route: Route): string => `${route.method} ${route.path}`;

const SCOPE_OF_ROUTE = new Map(ROUTES.map((route) => [routeKey(route), route.scope]));
const CAPABILITY_ROUTES = new Set(ROUTES.filter((route) => route.credential === 'capability').map(routeKey));

/** Whether a route key takes its credential from the `{capability}` path segment. */
export const takesCapability = (key: string): boolean => CAPABILITY_ROUTES.has(key);

/** What a route key (`GET /repo`) needs; a key not in the table needs admin (fail closed). */
export function requiredScopeOf(key: string): RequiredScope {
  return SCOPE_OF_ROUTE.get(key) ?? 'admin';
}

/** Matches a request path against the table: the route and its (still percent-encoded) parameters. */
export function matchRoute(method: string, rawPath: string): { route: Route; parameters: Record<string, string> } | { methodNotAllowed: true } | undefined {
  // `/v2/` and `/v2` are the same route (Docker clients send the slash).
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  let pathMatched = false;
  for (const route of ROUTES) {
    const parameters = matchPath(route.path, path);
    if (!parameters) continue;
    pathMatched = true;
    if (route.method === method) return { route, parameters };
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const patternSegments = pattern.split('/');
  const pathSegments = path.split('/');
  const greedy = pattern.endsWith('+}');
  if (greedy ? pathSegments.length < patternSegments.length : patternSegments.length !== pathSegments.length) return undefined;
  const parameters: Record<string, string> = {};
  for (let index = 0; index < patternSegments.length; index++) {
    const expected = patternSegments[index]!;
    const actual = pathSegments[index]!;
    if (expected.startsWith('{') && expected.endsWith('+}')) {
      // Greedy: the rest of the path, one segment at least (API Gateway's {proxy+}).
      const rest = pathSegments.slice(index).join('/');
      if (rest === '') return undefined;
      parameters[expected.slice(1, -2)] = rest;
      return parameters;
    }
    if (expected.startsWith('{') && expected.endsWith('}')) {
      if (actual === '') return undefined;
      parameters[expected.slice(1, -1)] = actual;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return parameters;
}
