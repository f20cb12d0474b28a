import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { derivePublicUrl, firstRunLines } from '../../../lib/server/public-url.ts';

const address = (ip: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo =>
  ({ address: ip, netmask: '255.255.255.0', family, mac: '00:00:00:00:00:00', internal, cidr: `${ip}/24`, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const base = { port: 8080, tls: false, interfaces: { lo: [address('127.0.0.1', true)], eth0: [address('10.1.2.3'), address('fe80::1', false, 'IPv6')] } };

describe('the public URL a server writes into /repo', () => {
  it('is the configured one when given, else where a named host listens', () => {
    assert.deepEqual(derivePublicUrl({ ...base, host: '0.0.0.0', configured: 'https://registry.example' }), { ok: true, url: 'https://registry.example', reach: 'configured' });
    assert.deepEqual(derivePublicUrl({ ...base, host: '127.0.0.1' }), { ok: true, url: 'http://127.0.0.1:8080', reach: 'this machine only' });
    assert.deepEqual(derivePublicUrl({ ...base, host: 'registry.internal', tls: true }), { ok: true, url: 'https://registry.internal:8080', reach: 'the network' });
    assert.deepEqual(derivePublicUrl({ ...base, host: 'fd00::5' }), { ok: true, url: 'http://[fd00::5]:8080', reach: 'the network' });
  });

  it('on all interfaces, is the one network address (not loopback, not link-local), and refuses none or several', () => {
    assert.deepEqual(derivePublicUrl({ ...base, host: '0.0.0.0' }), { ok: true, url: 'http://10.1.2.3:8080', reach: 'the network' });
    assert.deepEqual(derivePublicUrl({ ...base, host: '::', interfaces: { ...base.interfaces, docker0: [address('169.254.3.4')] } }), { ok: true, url: 'http://10.1.2.3:8080', reach: 'the network' });
    const none = derivePublicUrl({ ...base, host: '0.0.0.0', interfaces: { lo: [address('127.0.0.1', true)] } });
    assert.equal(none.ok, false);
    assert.match(!none.ok ? none.reason : '', /no network address: set REGISTRY_PUBLIC_URL/);
    const several = derivePublicUrl({ ...base, host: '0.0.0.0', interfaces: { ...base.interfaces, eth1: [address('192.168.7.9')] } });
    assert.equal(several.ok, false);
    assert.match(!several.ok ? several.reason : '', /several addresses \(10\.1\.2\.3, 192\.168\.7\.9\): set REGISTRY_PUBLIC_URL.*REGISTRY_PUBLIC_URL=http:\/\/10\.1\.2\.3:8080/);
  });

  it('tells the operator the command that adds it to DC/OS, or that it is reachable from this machine only', () => {
    assert.deepEqual(firstRunLines('http://0.0.0.0:8080', 'http://10.1.2.3:8080', 'the network', false), [
      'DC/OS Package Registry listening on http://0.0.0.0:8080; /repo names http://10.1.2.3:8080.',
      'Add it to DC/OS: dcos package repo add --index=0 Registry http://10.1.2.3:8080/repo',
    ]);
    assert.match(firstRunLines('http://x:1', 'https://r', 'configured', true)[1]!, /Registry https:\/\/r\/c\/<read token>\/repo$/);
    assert.match(firstRunLines('http://127.0.0.1:8080', 'http://127.0.0.1:8080', 'this machine only', false)[1]!, /this machine only: for a cluster, start it with HOST=0\.0\.0\.0/);
  });
});
