/**
 * Compiled validators for every Universe document the registry reads or writes.
 *
 * The schemas are the upstream Universe files, copied verbatim into `schemas/` and bundled as data.
 * They are JSON Schema draft-04, hence `ajv-draft-04`. Every schema is compiled once, lazily, on
 * first use: a CLI invocation that only migrates must not pay for the repo schemas.
 */
import AjvDraft04Module, { type ErrorObject, type ValidateFunction } from 'ajv-draft-04';
import buildDefinitionSchema from './schemas/build-definition-schema.json' with { type: 'json' };
import configSchema from './schemas/config-schema.json' with { type: 'json' };
import metadataSchema from './schemas/metadata-schema.json' with { type: 'json' };
import packageSchema from './schemas/package-schema.json' with { type: 'json' };
import v2ResourceSchema from './schemas/v2-resource-schema.json' with { type: 'json' };
import v3ResourceSchema from './schemas/v3-resource-schema.json' with { type: 'json' };
import v3RepoSchema from './schemas/v3-repo-schema.json' with { type: 'json' };
import v4RepoSchema from './schemas/v4-repo-schema.json' with { type: 'json' };
import v5RepoSchema from './schemas/v5-repo-schema.json' with { type: 'json' };
import repoDefinitions from './schemas/vX-repo-definitions.json' with { type: 'json' };
import { SchemaValidationError } from '../domain/errors.ts';

export type UniverseSchemaName =
  | 'package'
  | 'config'
  | 'v2-resource'
  | 'v3-resource'
  | 'build-definition'
  | 'metadata'
  | 'v3-repo'
  | 'v4-repo'
  | 'v5-repo';

/** Schemas whose root is a `oneOf` over one definition per packagingVersion. */
const VARIANT_DEFINITIONS: Partial<Record<UniverseSchemaName, Record<string, string>>> = {
  package: { '2.0': 'v20Package', '3.0': 'v30Package', '4.0': 'v40Package', '5.0': 'v50Package' },
  'build-definition': { '3.0': 'v30BuildDef', '4.0': 'v40BuildDef', '5.0': 'v50BuildDef' },
  metadata: { '3.0': 'v30Metadata', '4.0': 'v40Metadata', '5.0': 'v50Metadata' },
};

const SCHEMA_DOCUMENTS: Record<UniverseSchemaName, object> = {
  package: packageSchema,
  config: configSchema,
  'v2-resource': v2ResourceSchema,
  'v3-resource': v3ResourceSchema,
  'build-definition': buildDefinitionSchema,
  metadata: metadataSchema,
  'v3-repo': v3RepoSchema,
  'v4-repo': v4RepoSchema,
  'v5-repo': v5RepoSchema,
};

const MAX_REPORTED_ERRORS = 8;

// ajv-draft-04 is CommonJS: under NodeNext its default import is the module object, whose
// `default` is the class.
const Ajv = AjvDraft04Module.default;
type Ajv = InstanceType<typeof Ajv>;

let ajvInstance: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function ajv(): Ajv {
  if (ajvInstance === undefined) {
    // strict:false because the upstream schemas carry keywords (e.g. `default` beside `$ref`) that
    // Ajv's strict mode would refuse although draft-04 allows them.
    ajvInstance = new Ajv({ allErrors: true, strict: false, code: { regExp: patternEngine } });
    // The repo definitions declare `"format": "uri"`. Cosmos parses these strings as URIs, so an
    // absolute URI with a scheme is what the index must carry.
    ajvInstance.addFormat('uri', /^[a-z][a-z0-9+.-]*:[^\s]*$/i);
    // config.json is checked against the draft-04 meta-schema, which declares `pattern` a regex.
    ajvInstance.addFormat('regex', (pattern: string) => {
      try {
        new RegExp(pattern, 'u');
        return true;
      } catch {
        return isValidLegacyRegex(pattern);
      }
    });
    ajvInstance.addSchema(repoDefinitions, 'vX-repo-definitions.json');
    for (const [name, schema] of Object.entries(SCHEMA_DOCUMENTS)) ajvInstance.addSchema(schema, `${name}.json`);
  }
  return ajvInstance;
}

/**
 * The schemas' base64 pattern (`marathon.v2AppMustacheTemplate`) as V8 runs it backtracks once per 4-character
 * group: 6 ms for a 400 KB template, 20–30 ms for a large entry, all of it at once (a reindex of
 * large entries held the event loop past 50 ms). The same language checked as one character class
 * plus the length is linear and ten times faster (and has no stack to overflow: V8 threw a RangeError
 * on templates above ~3.7 million characters); test/unit/universe/base64-pattern.test.ts holds
 * the two to the same answers.
 */
export const BASE64_PATTERN = '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$';
const BASE64_ALPHABET_THEN_PADDING = /^[A-Za-z0-9+/]*={0,2}$/;

export const linearBase64Pattern = {
  test: (text: string): boolean => text.length >= 4 && text.length % 4 === 0 && BASE64_ALPHABET_THEN_PADDING.test(text),
  toString: (): string => `/${BASE64_PATTERN}/u`,
};

function patternEngine(pattern: string, flags: string): { test(text: string): boolean } {
  return pattern === BASE64_PATTERN ? linearBase64Pattern : new RegExp(pattern, flags);
}
// Ajv names the engine in code it generates for standalone use (never done here).
patternEngine.code = 'new RegExp';

function isValidLegacyRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function validatorFor(ref: string): ValidateFunction {
  let validate = compiled.get(ref);
  if (validate === undefined) {
    const schema = ajv().getSchema(ref);
    if (schema === undefined) throw new Error(`unknown schema reference ${ref}`);
    compiled.set(ref, schema);
    return schema;
  }
  return validate;
}

export function formatSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  if (!errors) return [];
  const lines = errors.map((error) => {
    const where = error.instancePath === '' ? '(root)' : error.instancePath;
    const extra =
      error.keyword === 'additionalProperties'
        ? ` '${String((error.params as { additionalProperty?: string }).additionalProperty)}'`
        : error.keyword === 'enum'
          ? ` ${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues)}`
          : '';
    return `${where} ${error.message ?? 'is invalid'}${extra}`;
  });
  return [...new Set(lines)].slice(0, MAX_REPORTED_ERRORS);
}

/** The schema errors of `document`, focused on its packagingVersion's variant when it has one. */
export function schemaErrors(name: UniverseSchemaName, document: unknown): string[] {
  const validate = validatorFor(`${name}.json`);
  if (validate(document)) return [];
  const variants = VARIANT_DEFINITIONS[name];
  const packagingVersion =
    typeof document === 'object' && document !== null
      ? (document as { packagingVersion?: unknown }).packagingVersion
      : undefined;
  // A oneOf reports the failures of every branch; the branch that the packagingVersion selects is
  // the one whose failures explain the problem.
  if (variants && typeof packagingVersion === 'string' && variants[packagingVersion]) {
    const variant = validatorFor(`${name}.json#/definitions/${variants[packagingVersion]}`);
    if (!variant(document)) return formatSchemaErrors(variant.errors);
  }
  if (variants && typeof packagingVersion === 'string' && !variants[packagingVersion]) {
    return [`/packagingVersion must be one of ${JSON.stringify(Object.keys(variants))}`];
  }
  return formatSchemaErrors(validate.errors);
}

export function isValid(name: UniverseSchemaName, document: unknown): boolean {
  return validatorFor(`${name}.json`)(document);
}

/**
 * Compiles a schema of the product's own (e.g. the bundle manifest) with the same validator
 * settings as the Universe schemas, and returns a function giving its formatted errors.
 */
export function compileSchema(schema: object): (document: unknown) => string[] {
  const validate = ajv().compile(schema);
  return (document) => (validate(document) ? [] : formatSchemaErrors(validate.errors));
}

/** Throws a SchemaValidationError naming `documentLabel` and the first schema errors. */
export function assertValid(name: UniverseSchemaName, document: unknown, documentLabel: string): void {
  const errors = schemaErrors(name, document);
  if (errors.length === 0) return;
  throw new SchemaValidationError(
    `[${documentLabel}] does not conform to the ${name} schema:\n  ${errors.join('\n  ')}`,
    { document: documentLabel, errors },
  );
}
