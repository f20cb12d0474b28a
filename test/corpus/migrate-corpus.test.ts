/**
 * Sweeps every revision of the Universe corpus through migrate: 4.0 and 5.0 must give valid build
 * definitions, 3.0 is migrated as 4.0, 2.0 is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../../lib/domain/errors.ts';
import { migratePackageDirectory } from '../../lib/packaging/migrate.ts';
import { schemaErrors } from '../../lib/universe/schema-registry.ts';
import { corpusRevisions, corpusSkipReason } from '../helpers/corpus.ts';

const skip = corpusSkipReason();

describe('migrate over the Universe corpus', { skip }, () => {
  const revisions = skip ? [] : corpusRevisions();

  it('migrates every 4.0 and 5.0 revision (301) to a valid build definition and valid metadata', async () => {
    const modern = revisions.filter((revision) => revision.packagingVersion === '4.0' || revision.packagingVersion === '5.0');
    assert.equal(modern.length, 301);
    const warned = new Map<string, number>();
    for (const revision of modern) {
      const { definition, fileName, warnings } = await migratePackageDirectory(revision.directory);
      assert.equal(fileName, `${revision.name}-${revision.version}.json`);
      // The only warnings of a 4.0/5.0 revision: images its app may run that cannot be bundled.
      for (const warning of warnings) assert.match(warning, /^image not bundled: config\.json \/properties\/\S+ \[.+\] .+ \(in .+config\.json\)$/, revision.relativePath);
      if (warnings.length > 0) warned.set(revision.relativePath, warnings.length);
      assert.deepEqual(schemaErrors('build-definition', definition), [], revision.relativePath);
      assert.deepEqual(schemaErrors('metadata', definition), [], revision.relativePath);
      assert.equal(definition.packagingVersion, revision.packagingVersion);
      assert.equal('selected' in definition, false);
    }
    // beta-data-science-engine offers 14 images besides its defaults (an enum each); jupyterlab
    // hides one in a Spark conf string (`spark.mesos.executor.docker.image=…`).
    assert.deepEqual(Object.fromEntries(warned), {
      'packages/B/beta-data-science-engine/0': 14,
      'packages/J/jupyterlab/0': 1,
      'packages/P/portworx-jupyterlab/0': 1,
    });
  });

  it('migrates every 3.0 revision as 4.0 and refuses every 2.0 revision', async () => {
    const legacy = revisions.filter((revision) => revision.packagingVersion === '3.0');
    const ancient = revisions.filter((revision) => revision.packagingVersion === '2.0');
    assert.equal(legacy.length, 14);
    assert.equal(ancient.length, 8);
    for (const revision of legacy) {
      const { definition } = await migratePackageDirectory(revision.directory);
      assert.equal(definition.packagingVersion, '4.0', revision.relativePath);
      assert.deepEqual(schemaErrors('build-definition', definition), [], revision.relativePath);
    }
    for (const revision of ancient) {
      await assert.rejects(
        migratePackageDirectory(revision.directory),
        (error: unknown) => error instanceof RegistryError && error.type === 'UnsupportedPackagingVersion',
        revision.relativePath,
      );
    }
  });
});
