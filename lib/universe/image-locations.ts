/**
 * Every place a package's metadata can name a Docker image that the app Cosmos renders will run,
 * so that `build` bundles each and publication points each at the registry (issue 10: seven
 * corpus entries pulled from Docker Hub through a place nothing looked at). The rule:
 *
 *  1. `resource.assets.container.docker.<alias>`, as before;
 *  2. a `config.json` property whose default names an image: its key's last word is `image`
 *     (`docker-image`, `tf_image`, `couchdb_image`, `image`; not `image_dir`), or an `"image"`
 *     field of the Marathon template is exactly `{{<that property>}}`;
 *  3. a literal `"image": "<reference>"` in the Marathon template, `{{…}}` parts in it filled
 *     with each config default (`galacticfog/gestalt-dcos:{{service.framework-version}}`).
 *
 * What looks like an image but cannot be made one (an empty default, a `{{…}}` with no default, a
 * value that is not a reference) is reported with its file and JSON path, for `migrate` and
 * `build` to warn about and `build --strict-images` to refuse.
 */
import { parseImageReference } from '../images/image-reference.ts';
import { dockerImageReferences } from './asset-references.ts';
import { pointerOf } from './json-pointer.ts';
import { isJsonObject, type JsonObject, type PackageMetadata } from './package-model.ts';

export const TEMPLATE_POINTER = '/marathon/v2AppMustacheTemplate';

export type ImageLocation =
  | { readonly kind: 'resource'; readonly pointer: string; readonly image: string }
  | { readonly kind: 'config-default'; readonly pointer: string; readonly image: string; readonly property: string }
  /** `literal` as the template writes it; `image` the reference it names with the defaults filled in. */
  | { readonly kind: 'template'; readonly pointer: typeof TEMPLATE_POINTER; readonly image: string; readonly literal: string };

export interface UnresolvedImage {
  readonly file: 'config.json' | 'marathon.json.mustache';
  /** A JSON path into the file (config.json), or the template's `"image"` field as written. */
  readonly path: string;
  readonly value: string;
  readonly reason: string;
}

export interface ImageLocations {
  readonly locations: readonly ImageLocation[];
  readonly unresolved: readonly UnresolvedImage[];
}

/** The last word of a key (`docker-image` → image, `gpuTfImage` → image, `image_dir` → dir). */
function lastWord(key: string): string {
  const words = key.split(/[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])/).filter(Boolean);
  return (words[words.length - 1] ?? '').toLowerCase();
}

function isImageReference(value: string): boolean {
  if (value.trim() !== value || value.length > 512 || /\s|=|:\/\//.test(value)) return false;
  try {
    parseImageReference(value);
    return true;
  } catch {
    return false;
  }
}

interface ConfigProperty {
  readonly path: string;
  readonly pointer: string;
  readonly value: unknown;
  readonly choices?: readonly unknown[];
}

/** Every property of the config schema that has a default, by its dotted path. */
function configDefaults(config: JsonObject | undefined): Map<string, ConfigProperty> {
  const found = new Map<string, ConfigProperty>();
  const walk = (schema: unknown, path: string[], tokens: (string | number)[]): void => {
    if (!isJsonObject(schema) || !isJsonObject(schema.properties)) return;
    for (const [key, property] of Object.entries(schema.properties)) {
      if (!isJsonObject(property)) continue;
      const here = [...path, key];
      const at = [...tokens, 'properties', key];
      if (property.default !== undefined) {
        found.set(here.join('.'), { path: here.join('.'), pointer: pointerOf(['config', ...at, 'default']), value: property.default, ...(Array.isArray(property.enum) ? { choices: property.enum } : {}) });
      }
      walk(property, here, at);
    }
  };
  walk(config, [], []);
  return found;
}

const VARIABLE = /\{\{\{?\s*([^{}\s]+)\s*\}?\}\}/g;
const WHOLE_VARIABLE = /^\{\{\{?\s*([^{}\s]+)\s*\}?\}\}$/;
// "image": "…" anywhere in the template (Marathon apps: container.docker.image).
const IMAGE_FIELD = /"image"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

function decodedTemplate(metadata: Pick<PackageMetadata, 'marathon'>): string | undefined {
  const encoded = metadata.marathon?.v2AppMustacheTemplate;
  if (typeof encoded !== 'string') return undefined;
  return Buffer.from(encoded, 'base64').toString('utf8');
}

export function imageLocations(metadata: Pick<PackageMetadata, 'resource' | 'config' | 'marathon'>): ImageLocations {
  const locations: ImageLocation[] = [];
  const unresolved: UnresolvedImage[] = [];
  for (const { pointer, image } of dockerImageReferences(metadata)) locations.push({ kind: 'resource', pointer, image });
  const defaults = configDefaults(isJsonObject(metadata.config) ? metadata.config : undefined);
  const taken = new Set<string>();
  const takeDefault = (property: ConfigProperty, why: string, fromTemplate: boolean): void => {
    if (taken.has(property.pointer)) return;
    taken.add(property.pointer);
    const value = property.value;
    const jsonPath = property.pointer.slice('/config'.length);
    // A switch (force_pull_image: true) is no image; an empty default means the app runs another.
    if (typeof value !== 'string' || (value === '' && !fromTemplate)) return;
    for (const choice of property.choices ?? []) {
      if (choice !== value && typeof choice === 'string' && choice !== '') {
        unresolved.push({ file: 'config.json', path: jsonPath.replace(/\/default$/, '/enum'), value: choice, reason: `an alternative to the default of ${property.path} is not bundled: an app set to it pulls from outside the registry` });
      }
    }
    if (value === '') {
      unresolved.push({ file: 'config.json', path: jsonPath, value, reason: `${why}, but its default is empty: nothing to bundle` });
    } else if (!isImageReference(value)) {
      unresolved.push({ file: 'config.json', path: jsonPath, value, reason: `${why}, but its default is not a Docker image reference` });
    } else {
      locations.push({ kind: 'config-default', pointer: property.pointer, image: value, property: property.path });
    }
  };
  for (const property of defaults.values()) {
    if (lastWord(property.path.split('.').pop()!) === 'image') takeDefault(property, `the property ${property.path} names an image`, false);
  }
  const template = decodedTemplate(metadata);
  if (template !== undefined) {
    const literals = new Set<string>();
    for (const match of template.matchAll(IMAGE_FIELD)) {
      let literal: string;
      try {
        literal = JSON.parse(`"${match[1]!}"`) as string;
      } catch {
        continue;
      }
      if (literal === '' || literals.has(literal)) continue;
      literals.add(literal);
      const whole = WHOLE_VARIABLE.exec(literal);
      if (whole) {
        const name = whole[1]!;
        if (name.startsWith('resource.assets.container.docker.')) continue; // 1: taken above
        const property = defaults.get(name);
        if (property) takeDefault(property, `the template's "image" is {{${name}}}`, true);
        else unresolved.push({ file: 'marathon.json.mustache', path: `"image": "${literal}"`, value: literal, reason: `{{${name}}} is not a config property with a default` });
        continue;
      }
      const missing: string[] = [];
      const image = literal.replace(VARIABLE, (_text, name: string) => {
        const value = defaults.get(name)?.value;
        if (typeof value === 'string' || typeof value === 'number') return String(value);
        missing.push(name);
        return '';
      });
      if (missing.length > 0) {
        unresolved.push({ file: 'marathon.json.mustache', path: `"image": "${literal}"`, value: literal, reason: `${missing.map((name) => `{{${name}}}`).join(', ')} has no default in config.json` });
      } else if (!isImageReference(image)) {
        unresolved.push({ file: 'marathon.json.mustache', path: `"image": "${literal}"`, value: literal, reason: `[${image}] is not a Docker image reference` });
      } else {
        locations.push({ kind: 'template', pointer: TEMPLATE_POINTER, image, literal });
      }
    }
  }
  return { locations, unresolved };
}

/** One line for a warning or an error: where, what, why. */
export function describeUnresolvedImage(unresolved: UnresolvedImage): string {
  return `${unresolved.file} ${unresolved.path}: [${unresolved.value}] ${unresolved.reason}`;
}

/** The template with each literal replaced (as a JSON string value of an "image" field). */
export function rewriteTemplateImages(encoded: string, replacements: ReadonlyMap<string, string>): string {
  const template = Buffer.from(encoded, 'base64').toString('utf8');
  const rewritten = template.replace(IMAGE_FIELD, (field, raw: string) => {
    let literal: string;
    try {
      literal = JSON.parse(`"${raw}"`) as string;
    } catch {
      return field;
    }
    const replacement = replacements.get(literal);
    return replacement === undefined ? field : `"image": ${JSON.stringify(replacement)}`;
  });
  return Buffer.from(rewritten, 'utf8').toString('base64');
}
