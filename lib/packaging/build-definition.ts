/**
 * Loading a build definition for `build`: schema check, resolution of `@path` local references
 * (relative to the definition's directory, absolute paths allowed), and the final check that the
 * result is valid package metadata (spec §2.4, after the predecessor CLI's algorithm).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { PackagingError, SchemaValidationError } from '../domain/errors.ts';
import { isJsonObject, type JsonObject, type PackageMetadata } from '../universe/package-model.ts';
import { schemaErrors, type UniverseSchemaName } from '../universe/schema-registry.ts';
import { readBinaryFile, readJsonFile } from '../support/files.ts';

export interface LoadedBuildDefinition {
  readonly metadata: PackageMetadata;
  /** Where relative asset paths and `@` references are resolved from. */
  readonly baseDirectory: string;
}

export async function loadBuildDefinition(file: string): Promise<LoadedBuildDefinition> {
  const document = await readJsonFile(file);
  requireSchema('build-definition', document, file);
  const baseDirectory = dirname(resolve(file));
  const definition = { ...(document as JsonObject) };

  const marathon = definition.marathon;
  if (isJsonObject(marathon) && typeof marathon.v2AppMustacheTemplate === 'string') {
    const referenced = referencedPath(marathon.v2AppMustacheTemplate, baseDirectory);
    if (referenced !== undefined) {
      definition.marathon = { ...marathon, v2AppMustacheTemplate: (await readBinaryFile(referenced)).toString('base64') };
      requireSchema('build-definition', definition, referenced);
    }
  }
  for (const key of ['config', 'resource'] as const) {
    const value = definition[key];
    const referenced = typeof value === 'string' ? referencedPath(value, baseDirectory) : undefined;
    if (referenced !== undefined) {
      definition[key] = (await readJsonFile(referenced)) as JsonObject;
      requireSchema('build-definition', definition, referenced);
    }
  }
  requireSchema('metadata', definition, file);
  return { metadata: definition as unknown as PackageMetadata, baseDirectory };
}

function referencedPath(value: string, baseDirectory: string): string | undefined {
  if (!value.startsWith('@')) return undefined;
  const path = value.slice(1);
  if (path.length === 0) throw new PackagingError('InvalidReference', `The local reference [${value}] names no file`, { reference: value });
  return isAbsolute(path) ? path : resolve(baseDirectory, path);
}

function requireSchema(schema: UniverseSchemaName, document: unknown, file: string): void {
  const errors = schemaErrors(schema, document);
  if (errors.length === 0) return;
  throw new SchemaValidationError(
    `Error validating package: [${file}] does not conform to the specified schema:\n  ${errors.join('\n  ')}`,
    { document: file, errors },
  );
}
