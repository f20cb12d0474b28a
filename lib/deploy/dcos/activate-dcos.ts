/**
 * `activate --target=dcos`: submits the Marathon app, waits until it is healthy, then registers
 * its /repo with Cosmos at index 0, the way the original's activate finished. Each request is
 * printed instead of sent with --dry-run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../../domain/errors.ts';
import type { RegistryOptions } from '../options.ts';
import { marathonApp, repositoryAddRequest } from './marathon-app.ts';

export const REPOSITORY_ADD_REQUEST_TYPE = 'application/vnd.dcos.package.repository.add-request+json;charset=utf-8;version=v1';
export const REPOSITORY_ADD_RESPONSE_TYPE = 'application/vnd.dcos.package.repository.add-response+json;charset=utf-8;version=v1';

export interface PlannedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

export interface DcosTarget {
  /** The cluster URL (what `dcos config show core.dcos_url` says). */
  readonly dcosUrl: string;
  /** A DC/OS authentication token (`dcos config show core.dcos_acs_token`). */
  readonly token?: string;
  readonly timeoutSeconds: number;
  readonly pollMilliseconds?: number;
  /** With read protection on: the read token whose capability URL Cosmos reads. */
  readonly readToken?: string;
}

export function plannedRequests(options: RegistryOptions, target: Pick<DcosTarget, 'dcosUrl' | 'readToken'>): { app: PlannedRequest; repository: PlannedRequest } {
  const base = target.dcosUrl.replace(/\/+$/, '');
  return {
    app: { method: 'POST', url: `${base}/service/marathon/v2/apps`, headers: { 'content-type': 'application/json' }, body: marathonApp(options) },
    repository: {
      method: 'POST',
      url: `${base}/package/repository/add`,
      headers: { 'content-type': REPOSITORY_ADD_REQUEST_TYPE, accept: REPOSITORY_ADD_RESPONSE_TYPE },
      body: repositoryAddRequest(options, target.readToken),
    },
  };
}

export async function activateOnDcos(
  options: RegistryOptions,
  target: DcosTarget,
  report: (line: string) => void,
): Promise<{ app: string; repository: string }> {
  const { app, repository } = plannedRequests(options, target);
  const auth: Record<string, string> = target.token ? { authorization: `token=${target.token}` } : {};
  const send = async (request: PlannedRequest): Promise<Response> => {
    try {
      return await fetch(request.url, { method: request.method, headers: { ...request.headers, ...auth }, body: JSON.stringify(request.body) });
    } catch (error) {
      throw new RegistryError('DcosUnreachable', `Cannot reach DC/OS at ${target.dcosUrl}: ${(error as Error).message}`, {});
    }
  };
  const appId = (app.body as { id: string }).id;
  report(`Submitting the Marathon app ${appId}`);
  const created = await send(app);
  if (!created.ok) throw new RegistryError('MarathonRefused', `Marathon refused the app ${appId}: HTTP ${created.status} ${(await created.text()).slice(0, 300)}`, {});
  report(`Waiting until ${appId} is healthy`);
  const deadline = Date.now() + target.timeoutSeconds * 1000;
  for (;;) {
    const response = await fetch(`${target.dcosUrl.replace(/\/+$/, '')}/service/marathon/v2/apps${appId}`, { headers: auth });
    if (response.ok) {
      const { app: state } = (await response.json()) as { app?: { tasksHealthy?: number; instances?: number } };
      if ((state?.tasksHealthy ?? 0) >= (state?.instances ?? options.service.instances)) break;
    }
    if (Date.now() > deadline) throw new RegistryError('Timeout', `${appId} was not healthy within ${target.timeoutSeconds} s; see its tasks in Marathon`, {});
    await sleep(target.pollMilliseconds ?? 2000);
  }
  const body = repository.body as { uri: string };
  // The capability URL holds a read token: never in what is printed or thrown (Cosmos's answer may repeat it).
  const masked = (text: string): string => maskReadToken(text, target.readToken);
  report(`Adding ${masked(body.uri)} to the package repositories at index 0`);
  const added = await send(repository);
  if (!added.ok) throw new RegistryError('CosmosRefused', masked(`Cosmos refused the repository ${body.uri}: HTTP ${added.status} ${(await added.text()).slice(0, 300)}`), {});
  return { app: appId, repository: masked(body.uri) };
}

/** `text` with the read token (and its percent-encoded form) replaced by `<read token>`. */
export function maskReadToken(text: string, readToken: string | undefined): string {
  if (!readToken) return text;
  return text.split(readToken).join('<read token>').split(encodeURIComponent(readToken)).join('<read token>');
}
