/**
 * Real bundles for registry tests, built with the product's own build from Universe packages,
 * downloads served by the local asset server.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../lib/packaging/build-bundle.ts';
import { parseUrlRewrite } from '../../lib/packaging/fetch/url-rewrite.ts';
import type { BuildDefinition } from '../../lib/universe/package-model.ts';
import { rewriteEverythingTo, type AssetServer } from './asset-server.ts';
import { servedBuildDefinition } from './build-definitions.ts';
import { fixturePath } from './fixtures.ts';

export const HELLO_WORLD = fixturePath('universe/packages/H/hello-world/700');

/** Builds the bundle of a package directory; `change` may edit the definition first. */
export async function buildTestBundle(
  server: AssetServer,
  packageDirectory: string,
  workDirectory: string,
  change?: (definition: BuildDefinition) => BuildDefinition,
): Promise<{ path: string; definition: BuildDefinition }> {
  await mkdir(workDirectory, { recursive: true });
  const { file, definition } = await servedBuildDefinition(packageDirectory, workDirectory);
  const final = change ? change(definition) : definition;
  if (change) await writeFile(file, JSON.stringify(final));
  const outcome = await buildBundle({
    buildDefinitionFile: file,
    outputDirectory: join(workDirectory, `out-${Math.random().toString(36).slice(2)}`),
    overwrite: false,
    rewrites: rewriteEverythingTo(server.baseUrl).map(parseUrlRewrite),
  });
  return { path: outcome.path, definition: final };
}

/** `count` distinct small packages (hello-world renamed), each with one asset of its own and shared icons. */
export async function buildDistinctBundles(server: AssetServer, workDirectory: string, count: number): Promise<{ path: string; name: string; version: string }[]> {
  await mkdir(workDirectory, { recursive: true });
  const source = join(workDirectory, 'variant-source');
  await cp(HELLO_WORLD, source, { recursive: true });
  const bundles: { path: string; name: string; version: string }[] = [];
  for (let index = 0; index < count; index++) {
    const name = `concurrent-${String(index).padStart(2, '0')}`;
    const { path } = await buildTestBundle(server, source, workDirectory, (definition) => {
      const resource = JSON.parse(JSON.stringify(definition.resource)) as { assets: { uris: Record<string, string> }; cli?: unknown };
      resource.assets.uris = { own: `https://assets.example.com/${name}/own.bin` };
      delete resource.cli;
      return { ...definition, name, resource } as BuildDefinition;
    });
    bundles.push({ path, name, version: '3.2.0-0.57.3' });
  }
  return bundles;
}

export async function readBundleBytes(path: string): Promise<Buffer> {
  return readFile(path);
}
