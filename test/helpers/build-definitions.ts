/**
 * Build definitions for tests: a corpus revision migrated, with the CLI `contentHash` values
 * replaced by the sha256 of the bytes the test asset server serves for those URLs. Verification
 * itself stays on: a wrong hash still fails the build.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migratePackageDirectory, serializeBuildDefinition } from '../../lib/packaging/migrate.ts';
import type { BuildDefinition, Resource } from '../../lib/universe/package-model.ts';
import { assetBytesFor, servedPathFor, sha256Hex } from './asset-server.ts';

export function withServedContentHashes(definition: BuildDefinition): BuildDefinition {
  const resource = definition.resource as Resource | undefined;
  const binaries = resource?.cli?.binaries;
  if (!resource || !binaries) return definition;
  const rehashed = Object.fromEntries(
    Object.entries(binaries).map(([platform, binary]) => {
      const cli = binary['x86-64'];
      const value = sha256Hex(assetBytesFor(servedPathFor(cli.url)));
      return [platform, { 'x86-64': { ...cli, contentHash: [{ algo: 'sha256', value }] } }];
    }),
  );
  return { ...definition, resource: { ...resource, cli: { binaries: rehashed } } };
}

/** Migrates `packageDirectory` into `outputDirectory`, rehashed for the asset server; returns the file. */
export async function servedBuildDefinition(packageDirectory: string, outputDirectory: string): Promise<{ file: string; definition: BuildDefinition }> {
  const { definition, fileName } = await migratePackageDirectory(packageDirectory);
  const rehashed = withServedContentHashes(definition);
  const file = join(outputDirectory, fileName);
  await writeFile(file, serializeBuildDefinition(rehashed));
  return { file, definition: rehashed };
}
