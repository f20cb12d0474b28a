/**
 * The base URL written into /repo when none is configured: what agents and Cosmos must reach. A
 * server on loopback is reachable from this machine only (fine for a first try, and said so); one
 * bound to a named address is reached there; one bound to all interfaces is reached at this
 * machine's one network address, and refuses to start when it has none or several (it cannot know
 * which the cluster reaches, and a wrong URL in /repo fails every install much later).
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { isLoopback } from '../http/auth.ts';

/** Who can reach the public URL: it was given, or only this machine (loopback), or the network. */
export type PublicUrlReach = 'configured' | 'this machine only' | 'the network';

export type PublicUrl =
  | { readonly ok: true; readonly url: string; readonly reach: PublicUrlReach }
  | { readonly ok: false; readonly reason: string };

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

export function derivePublicUrl(options: {
  readonly configured?: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly interfaces: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;
}): PublicUrl {
  if (options.configured) return { ok: true, url: options.configured, reach: 'configured' };
  const scheme = options.tls ? 'https' : 'http';
  const at = (host: string): string => `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${options.port}`;
  if (options.host === 'localhost' || isLoopback(options.host)) return { ok: true, url: at(options.host), reach: 'this machine only' };
  if (!WILDCARDS.has(options.host)) return { ok: true, url: at(options.host), reach: 'the network' };
  const candidates = Object.values(options.interfaces)
    .flatMap((addresses) => addresses ?? [])
    .filter((address) => address.family === 'IPv4' && !address.internal && !address.address.startsWith('169.254.'))
    .map((address) => address.address);
  const distinct = [...new Set(candidates)];
  if (distinct.length === 1) return { ok: true, url: at(distinct[0]!), reach: 'the network' };
  return {
    ok: false,
    reason:
      distinct.length === 0
        ? `listening on all interfaces, but this machine has no network address: set REGISTRY_PUBLIC_URL to the URL agents and Cosmos reach (it is written into /repo)`
        : `listening on all interfaces, and this machine has several addresses (${distinct.join(', ')}): set REGISTRY_PUBLIC_URL to the one agents and Cosmos reach, e.g. REGISTRY_PUBLIC_URL=${scheme}://${distinct[0]}:${options.port} (it is written into /repo)`,
  };
}

/** What to tell an operator at start: where it listens, what /repo names, and the command that adds it to DC/OS. */
export function firstRunLines(listening: string, publicUrl: string, reach: PublicUrlReach, readProtection: boolean): string[] {
  const repository = readProtection ? `${publicUrl}/c/<read token>/repo` : `${publicUrl}/repo`;
  const lines = [`DC/OS Package Registry listening on ${listening}; /repo names ${publicUrl}${reach === 'configured' ? ' (REGISTRY_PUBLIC_URL)' : ''}.`];
  if (reach === 'this machine only') {
    lines.push(`Reachable from this machine only: for a cluster, start it with HOST=0.0.0.0 (and REGISTRY_PUBLIC_URL=http://<this host>:<port> if it has several addresses).`);
  } else {
    lines.push(`Add it to DC/OS: dcos package repo add --index=0 Registry ${repository}`);
  }
  return lines;
}
