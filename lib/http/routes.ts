/**
 * Every HTTP route and the function that serves it. serverless.yml declares the same routes (a
 * test keeps the two equal), and the embedded server routes requests with this table.
 */
export type HttpFunctionName = 'health' | 'repo' | 'resource' | 'upload' | 'describe' | 'remove';

export interface Route {
  readonly functionName: HttpFunctionName;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
}

export const ROUTES: readonly Route[] = [
  { functionName: 'health', method: 'GET', path: '/' },
  { functionName: 'health', method: 'GET', path: '/health' },
  { functionName: 'repo', method: 'GET', path: '/repo' },
  { functionName: 'resource', method: 'GET', path: '/resource/{coordinate}/{digest}/{filename}' },
  { functionName: 'upload', method: 'POST', path: '/v1/uploads' },
  { functionName: 'upload', method: 'GET', path: '/v1/uploads/{uploadId}' },
  { functionName: 'upload', method: 'POST', path: '/v1/uploads/{uploadId}/complete' },
  { functionName: 'describe', method: 'GET', path: '/v1/packages' },
  { functionName: 'describe', method: 'GET', path: '/v1/packages/{name}/{version}' },
  { functionName: 'remove', method: 'DELETE', path: '/v1/packages/{name}/{version}' },
];

export const routeKey = (route: Route): string => `${route.method} ${route.path}`;

/** Matches a request path against the table: the route and its (still percent-encoded) parameters. */
export function matchRoute(method: string, path: string): { route: Route; parameters: Record<string, string> } | { methodNotAllowed: true } | undefined {
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
  if (patternSegments.length !== pathSegments.length) return undefined;
  const parameters: Record<string, string> = {};
  for (let index = 0; index < patternSegments.length; index++) {
    const expected = patternSegments[index]!;
    const actual = pathSegments[index]!;
    if (expected.startsWith('{') && expected.endsWith('}')) {
      if (actual === '') return undefined;
      parameters[expected.slice(1, -1)] = actual;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return parameters;
}
