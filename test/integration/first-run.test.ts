/**
 * The first run reaches a cluster (issue 13, item 2): the built server bound to all interfaces
 * with no REGISTRY_PUBLIC_URL writes this machine's network address into /repo (not 0.0.0.0) and
 * tells the operator, on stderr, the exact `dcos package repo add`; given several addresses it
 * refuses to start, naming them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { serverConfigFrom } from '../../lib/config/environment.ts';
import { startRegistryServer } from '../../lib/server/registry-server.ts';
import { silentLogger } from '../../lib/support/logger.ts';

const SERVER = fileURLToPath(new URL('../../dist/server/registry.mjs', import.meta.url));
const networkAddresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'));

describe('the first run', () => {
  it('on all interfaces: /repo names this machine\'s address, and stderr says how to add it to DC/OS', { skip: networkAddresses.length !== 1 ? `this machine has ${networkAddresses.length} network addresses, not one` : false }, async () => {
    const work = await mkdtemp(join(tmpdir(), 'first-run-'));
    const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH ?? '', HOST: '0.0.0.0', PORT: '0', REGISTRY_DATA_DIR: join(work, 'data') }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
        const poll = setInterval(() => {
          const found = /Add it to DC\/OS: (.*)\n/.exec(stderr);
          if (found) {
            clearInterval(poll);
            resolve(found[1]!);
          }
        }, 50);
      });
      const ip = networkAddresses[0]!.address;
      const match = new RegExp(`^dcos package repo add --index=0 Registry http://${ip.replace(/\./g, '\\.')}:(\\d+)/repo$`).exec(line);
      assert.ok(match, line);
      assert.match(stderr, new RegExp(`listening on http://0\\.0\\.0\\.0:${match[1]}; /repo names http://${ip.replace(/\./g, '\\.')}:${match[1]}\\.`));
      const health = await fetch(`http://${ip}:${match[1]}/health`);
      assert.equal(health.status, 200);
    } finally {
      child.kill('SIGTERM');
      await rm(work, { recursive: true, force: true });
    }
  });

  it('refuses to start on all interfaces when the machine has several addresses and no REGISTRY_PUBLIC_URL', async () => {
    const work = await mkdtemp(join(tmpdir(), 'first-run-'));
    try {
      const config = serverConfigFrom({ HOST: '0.0.0.0', PORT: '0', REGISTRY_DATA_DIR: join(work, 'data') });
      const two = { eth0: [{ address: '10.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: false, cidr: null }], eth1: [{ address: '10.0.0.2', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: false, cidr: null }] } as const;
      await assert.rejects(startRegistryServer(config, { log: silentLogger, networkInterfaces: two as unknown as Record<string, NetworkInterfaceInfo[]> }), /REGISTRY_PUBLIC_URL: listening on all interfaces, and this machine has several addresses \(10\.0\.0\.1, 10\.0\.0\.2\)/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
