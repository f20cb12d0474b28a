/**
 * `migrate`: a Universe package revision directory → an inlined build definition (spec §2.3).
 *
 * The output is the package.json object without `selected` (and without `command`), followed by
 * `marathon` (the template in standard base64), `config` and `resource`, serialised as compact
 * JSON. That is byte for byte what the original CLI wrote (the 13,448-byte hello-world evidence).
 *
 * packagingVersion 2.0 is refused: there is no metadata schema for it and the registry serves
 * v4/v5 repositories. packagingVersion 3.0 is migrated as 4.0: the two differ only in that 4.0
 * forbids `command` (pip-installed CLIs, which Cosmos ignores for bundled packages anyway) and
 * allows `upgradesFrom`/`downgradesTo`; so a 3.0 revision loses its command.json, with a warning,
 * and is otherwise unchanged. That lets air-gapped sites carry the CLI-only 3.0 packages
 * (dcos-enterprise-cli, dcos-core-cli) that DC/OS itself needs.
 */
import { join } from 'node:path';
import { PackagingError } from '../domain/errors.ts';
import { isJsonObject, type BuildDefinition, type JsonObject, type PackageMetadata } from '../universe/package-model.ts';
import { assertValid } from '../universe/schema-registry.ts';
import { ensureDirectory, fileExists, readBinaryFile, readJsonFile, writeFileAtomic } from '../support/files.ts';
import { describeUnresolvedImage, imageLocations } from '../universe/image-locations.ts';

export interface MigrationResult {
  readonly definition: BuildDefinition;
  /** `<name>-<version>.json` */
  readonly fileName: string;
  readonly warnings: readonly string[];
}

const DROPPED_KEYS = new Set(['selected', 'command']);

export async function migratePackageDirectory(directory: string): Promise<MigrationResult> {
  const packageFile = join(directory, 'package.json');
  if (!(await fileExists(directory))) {
    throw new PackagingError('FileNotFound', `The package directory [${directory}] does not exist`, { path: directory });
  }
  if (!(await fileExists(packageFile))) {
    throw new PackagingError('FileNotFound', `The package directory [${directory}] has no package.json`, { path: packageFile });
  }
  const packageJson = await readJsonFile(packageFile);
  if (!isJsonObject(packageJson)) {
    throw new PackagingError('InvalidPackage', `The file [${packageFile}] must hold a JSON object`, { path: packageFile });
  }
  const packagingVersion = packageJson.packagingVersion;
  if (packagingVersion === '2.0') {
    throw new PackagingError(
      'UnsupportedPackagingVersion',
      `Package [${String(packageJson.name)}] version [${String(packageJson.version)}] uses packagingVersion 2.0, which the DC/OS Package Registry does not support: repackage it with packagingVersion 4.0 or later`,
      { path: packageFile, packagingVersion },
    );
  }
  assertValid('package', packageJson, packageFile);

  const warnings: string[] = [];
  const config = await readOptionalJson(join(directory, 'config.json'));
  if (config !== undefined) assertValid('config', config, join(directory, 'config.json'));
  const resource = await readOptionalJson(join(directory, 'resource.json'));
  if (resource !== undefined) assertValid('v3-resource', resource, join(directory, 'resource.json'));

  const commandFile = join(directory, 'command.json');
  if (await fileExists(commandFile)) {
    if (packagingVersion !== '3.0') {
      throw new PackagingError('InvalidPackage', `The file [${commandFile}] is not allowed with packagingVersion ${String(packagingVersion)}`, {
        path: commandFile,
      });
    }
    warnings.push(`${commandFile} is dropped: packagingVersion 4.0 has no command (Cosmos ignores it for registry packages)`);
  }
  if (packagingVersion === '3.0') {
    warnings.push(`Package [${String(packageJson.name)}] version [${String(packageJson.version)}] uses packagingVersion 3.0: migrated as 4.0`);
  }

  const templateFile = join(directory, 'marathon.json.mustache');
  const template = (await fileExists(templateFile)) ? await readBinaryFile(templateFile) : undefined;

  const definition: JsonObject = {};
  for (const [key, value] of Object.entries(packageJson)) {
    if (DROPPED_KEYS.has(key)) continue;
    definition[key] = key === 'packagingVersion' && value === '3.0' ? '4.0' : value;
  }
  if (template !== undefined) definition.marathon = { v2AppMustacheTemplate: template.toString('base64') };
  if (config !== undefined) definition.config = config as JsonObject;
  if (resource !== undefined) definition.resource = resource as JsonObject;

  const fileName = `${String(definition.name)}-${String(definition.version)}.json`;
  assertValid('build-definition', definition, fileName);
  // Images the rendered app may run that `build` cannot bundle: said now, with where they are.
  for (const unresolved of imageLocations(definition as unknown as PackageMetadata).unresolved) {
    warnings.push(`image not bundled: ${describeUnresolvedImage(unresolved)} (in ${join(directory, unresolved.file)})`);
  }
  return { definition: definition as unknown as BuildDefinition, fileName, warnings };
}

/** Serialisation of a build definition: compact, like the original (no trailing newline). */
export function serializeBuildDefinition(definition: BuildDefinition): string {
  return JSON.stringify(definition);
}

export interface MigrateOptions {
  readonly packageDirectory: string;
  readonly outputDirectory: string;
  readonly overwrite: boolean;
}

export interface MigrateOutcome {
  readonly path: string;
  readonly warnings: readonly string[];
}

export async function migrate(options: MigrateOptions): Promise<MigrateOutcome> {
  const { definition, fileName, warnings } = await migratePackageDirectory(options.packageDirectory);
  await ensureDirectory(options.outputDirectory);
  const path = join(options.outputDirectory, fileName);
  await writeFileAtomic(path, serializeBuildDefinition(definition), { overwrite: options.overwrite });
  return { path, warnings };
}

async function readOptionalJson(path: string): Promise<unknown> {
  return (await fileExists(path)) ? readJsonFile(path) : undefined;
}
