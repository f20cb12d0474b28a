import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { InvalidOptionsError, optionsErrors, resolveOptions, serviceHost } from '../../../lib/deploy/options.ts';
import { runBuiltCli } from '../../helpers/cli.ts';
import { fixturePath } from '../../helpers/fixtures.ts';

const seedExample = async (): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(fixturePath('options/package-registry-options.json'), 'utf8')) as Record<string, unknown>;

describe('the options file', () => {
  it("validates the original documentation's example, and completes it with the defaults", async () => {
    const example = await seedExample();
    assert.deepEqual(optionsErrors(example), []);
    const resolved = resolveOptions(example);
    assert.deepEqual(resolved.storage, {
      kind: 's3', bucket: 'my-bucket', path: 'my-path-in-bucket', endpoint: 'https://s3.us-east-1.amazonaws.com',
      credentialSecretPath: 'dcos-registry-s3-credential-file', credentialProfileName: 'default',
    });
    assert.deepEqual(resolved.service, { name: 'dcos-registry', instances: 2, cpus: 2, mem: 2048, disk: 20480, image: 'node:20-bookworm-slim' });
  });

  it('defaults to the original: local storage, one instance, service dcos-registry', () => {
    const resolved = resolveOptions({});
    assert.deepEqual(resolved.storage, { kind: 'local' });
    assert.equal(resolved.service.instances, 1);
    assert.equal(resolved.service.name, 'dcos-registry');
    assert.equal(resolved.publicUrl, 'https://dcos-registry.marathon.l4lb.thisdcos.directory');
    assert.equal(resolved.dockerHost, 'dcos-registry.marathon.l4lb.thisdcos.directory:443');
  });

  it('derives the hosts from the service name as the original did', () => {
    assert.equal(serviceHost('/my/custom/dcos-registry'), 'mycustomdcos-registry.marathon.l4lb.thisdcos.directory');
    const resolved = resolveOptions({ service: { name: '/my/custom/dcos-registry' } });
    assert.equal(resolved.publicUrl, 'https://mycustomdcos-registry.marathon.l4lb.thisdcos.directory');
    assert.equal(resolved.dockerHost, 'mycustomdcos-registry.marathon.l4lb.thisdcos.directory:443');
  });

  it('names the JSON path of wrong types, unknown keys and a missing bucket', async () => {
    const example = await seedExample();
    const wrong = { ...example, service: { instances: 'two' } };
    assert.deepEqual(optionsErrors(wrong), ['$.service.instances must be integer']);
    const unknown = { registry: { s3: { bucket: 'my-bucket', bucketname: 'x' } } };
    assert.deepEqual(optionsErrors(unknown), ["$.registry.s3 must NOT have additional properties 'bucketname'"]);
    const missing = { registry: { s3: { path: 'p' } } };
    assert.deepEqual(optionsErrors(missing), ["$.registry.s3 must have required property 'bucket'"]);
    assert.deepEqual(optionsErrors({ service: { instances: 3 } }), ['$.service.instances above 1 needs registry.s3: local storage and mount volumes serve one instance']);
    assert.throws(() => resolveOptions(missing, 'opts.json'), (error: unknown) => error instanceof InvalidOptionsError && /\[opts\.json\] is not valid:\n {2}\$\.registry\.s3 must have required property 'bucket'/.test(error.message));
  });

  it('is printed and checked by `dcos-registry registry config`', async () => {
    const schema = await runBuiltCli(['registry', 'config', '--json']);
    assert.equal(schema.code, 0, schema.stderr);
    assert.deepEqual(Object.keys((JSON.parse(schema.stdout) as { properties: object }).properties), ['registry', 'service']);
    const checked = await runBuiltCli(['config', `--options=${fixturePath('options/package-registry-options.json')}`, '--json']);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal((JSON.parse(checked.stdout) as { dockerHost: string }).dockerHost, 'dcos-registry.marathon.l4lb.thisdcos.directory:443');
  });
});
