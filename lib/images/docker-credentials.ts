/**
 * Registry credentials from a Docker `config.json` (`auths.<host>.auth` = base64 of user:password),
 * read from `--docker-config`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PackagingError } from '../domain/errors.ts';
import { DOCKER_HUB } from './image-reference.ts';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

export type CredentialLookup = (registry: string) => BasicCredentials | undefined;

const HUB_ALIASES = ['https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io', DOCKER_HUB];

export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

export async function loadDockerCredentials(path: string, required: boolean): Promise<CredentialLookup> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return () => undefined;
    throw new PackagingError('FileNotFound', `The Docker config [${path}] cannot be read: ${(error as Error).message}`, { path });
  }
  let auths: Record<string, { auth?: string; username?: string; password?: string }>;
  try {
    auths = (JSON.parse(text) as { auths?: typeof auths }).auths ?? {};
  } catch {
    throw new PackagingError('InvalidJson', `The Docker config [${path}] is not valid JSON`, { path });
  }
  const byHost = new Map<string, BasicCredentials>();
  for (const [key, entry] of Object.entries(auths)) {
    let credentials: BasicCredentials | undefined;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    } else if (entry.username && entry.password) {
      credentials = { username: entry.username, password: entry.password };
    }
    if (!credentials) continue;
    const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    byHost.set(HUB_ALIASES.includes(key) || HUB_ALIASES.includes(host) ? DOCKER_HUB : host, credentials);
  }
  return (registry) => byHost.get(registry);
}
