import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repositoryEntry, type IndexFragment } from '../../../lib/registry/index-document.ts';
import { imageLocations, rewriteTemplateImages } from '../../../lib/universe/image-locations.ts';
import type { PackageMetadata } from '../../../lib/universe/package-model.ts';

const template = (text: string): string => Buffer.from(text).toString('base64');
const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** Shaped like spark-history (an image from a config default) and gestalt-framework (a literal with a templated tag). */
const METADATA = {
  packagingVersion: '4.0',
  name: 'mixed',
  version: '1.0.0',
  maintainer: 'ops@example.com',
  description: 'images everywhere',
  tags: [],
  config: {
    type: 'object',
    properties: {
      service: {
        type: 'object',
        properties: {
          'docker-image': { type: 'string', default: 'mesosphere/spark:2.4.6' },
          'framework-version': { type: 'string', default: '1.5.1' },
          force_pull_image: { type: 'boolean', default: true },
          image_dir: { type: 'string', default: '/var/images' },
          worker_image: { type: 'string', default: 'team/worker:1', enum: ['team/worker:1', 'team/worker:2-gpu'] },
          spare_image: { type: 'string', default: '' },
          sidecar: { type: 'string', default: 'team/sidecar:3' },
          conf_image: { type: 'string', default: 'spark.mesos.executor.docker.image=team/x:1' },
        },
      },
    },
  },
  marathon: {
    v2AppMustacheTemplate: template(
      '{"id":"{{service.name}}","container":{"docker":{"image":"{{service.docker-image}}"}},' +
        '"apps":[{"container":{"docker":{"image":"galacticfog/gestalt-dcos:{{service.framework-version}}"}}},' +
        '{"container":{"docker":{"image":"{{service.sidecar}}"}}},{"container":{"docker":{"image":"{{resource.assets.container.docker.main}}"}}},' +
        '{"container":{"docker":{"image":"team/{{service.missing}}:1"}}},{"container":{"docker":{"image":"plain/literal:7"}}}]}',
    ),
  },
  resource: { assets: { container: { docker: { main: 'team/main:2' } } } },
} as unknown as PackageMetadata;

describe('where a package names the images it runs', () => {
  it('finds resource images, image-named config defaults, template literals and defaults the template names', () => {
    const { locations, unresolved } = imageLocations(METADATA);
    assert.deepEqual(
      locations.map((location) => [location.kind, location.pointer, location.image, location.kind === 'template' ? location.literal : '']),
      [
        ['resource', '/resource/assets/container/docker/main', 'team/main:2', ''],
        ['config-default', '/config/properties/service/properties/docker-image/default', 'mesosphere/spark:2.4.6', ''],
        ['config-default', '/config/properties/service/properties/worker_image/default', 'team/worker:1', ''],
        ['template', '/marathon/v2AppMustacheTemplate', 'galacticfog/gestalt-dcos:1.5.1', 'galacticfog/gestalt-dcos:{{service.framework-version}}'],
        ['config-default', '/config/properties/service/properties/sidecar/default', 'team/sidecar:3', ''],
        ['template', '/marathon/v2AppMustacheTemplate', 'plain/literal:7', 'plain/literal:7'],
      ],
    );
    // Each with its file, path and reason; a switch, a directory and an empty default are no images.
    assert.deepEqual(
      unresolved.map((entry) => [entry.file, entry.path, entry.value]),
      [
        ['config.json', '/properties/service/properties/worker_image/enum', 'team/worker:2-gpu'],
        ['config.json', '/properties/service/properties/conf_image/default', 'spark.mesos.executor.docker.image=team/x:1'],
        ['marathon.json.mustache', '"image": "team/{{service.missing}}:1"', 'team/{{service.missing}}:1'],
      ],
    );
    assert.match(unresolved[2]!.reason, /\{\{service\.missing\}\} has no default/);
  });

  it('rewrites the template literals and config defaults to this registry, keeping a templated tag to the template', () => {
    const locations = imageLocations(METADATA).locations;
    const fragment: IndexFragment = {
      name: 'mixed',
      version: '1.0.0',
      releaseVersion: 1,
      contentDigest: 'c'.repeat(64),
      metadata: METADATA,
      resources: [],
      images: locations.map((location) => ({
        ref: location.pointer,
        repository: location.image.replace(/:.*$/, ''),
        tag: location.image.replace(/^.*:/, ''),
        digest: DIGEST,
        ...(location.kind === 'template' ? { template: location.literal } : {}),
      })),
    };
    const entry = repositoryEntry(fragment, { publicBaseUrl: 'http://registry', dockerHost: 'registry:443' }) as unknown as PackageMetadata & {
      config: { properties: { service: { properties: Record<string, { default: unknown; enum?: unknown[] }> } } };
    };
    const service = entry.config.properties.service.properties;
    assert.equal(service['docker-image']!.default, `registry:443/mesosphere/spark@${DIGEST}`);
    assert.equal(service.worker_image!.default, `registry:443/team/worker@${DIGEST}`);
    assert.deepEqual(service.worker_image!.enum, [`registry:443/team/worker@${DIGEST}`, 'team/worker:2-gpu'], 'the enum still allows the default');
    assert.equal(service.force_pull_image!.default, true);
    const rendered = Buffer.from(entry.marathon!.v2AppMustacheTemplate, 'base64').toString('utf8');
    assert.ok(rendered.includes('"image": "registry:443/galacticfog/gestalt-dcos:{{service.framework-version}}"'), rendered);
    assert.ok(rendered.includes(`"image": "registry:443/plain/literal@${DIGEST}"`), rendered);
    assert.ok(rendered.includes('"image":"{{service.docker-image}}"'), 'a variable stays: its default was rewritten');
  });

  it('changes nothing in a template without those literals', () => {
    const encoded = template('{"container":{"docker":{"image":"{{resource.assets.container.docker.x}}"}}}');
    assert.equal(rewriteTemplateImages(encoded, new Map([['other:1', 'x']])), encoded);
  });
});
