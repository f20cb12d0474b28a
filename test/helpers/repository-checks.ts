/** Reading /repo as Cosmos does, and checking what it promises. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { schemaErrors } from '../../lib/universe/schema-registry.ts';

export const COSMOS_HEADERS = {
  accept:
    'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4,application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3',
  'accept-encoding': 'gzip',
  'user-agent': 'cosmos/0.6.3 dcos/2.1.0',
};

export const V5_CONTENT_TYPE = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';

export interface RepoEntry {
  name: string;
  version: string;
  releaseVersion: number;
  packagingVersion: string;
  resource?: Record<string, unknown>;
  [key: string]: unknown;
}

/** GET /repo with Cosmos's headers; asserts the contract and returns the decoded document. */
export async function fetchRepository(url: string, userAgent = COSMOS_HEADERS['user-agent']): Promise<{ packages: RepoEntry[]; etag: string }> {
  const response = await rawGet(`${url}/repo`, { ...COSMOS_HEADERS, 'user-agent': userAgent });
  assert.equal(response.status, 200);
  assert.equal(response.headers['content-type'], V5_CONTENT_TYPE);
  assert.equal(response.headers['content-encoding'], 'gzip');
  const etag = response.headers.etag;
  assert.ok(typeof etag === 'string');
  const text = gunzipSync(response.body).toString('utf8');
  const document = JSON.parse(text) as { packages: RepoEntry[] };
  assert.deepEqual(schemaErrors('v5-repo', document), [], 'the repository is valid against the v5 schema');
  return { ...document, etag };
}

/** Every string in the entry's resource that looks like a URL. */
export function resourceUrls(entry: RepoEntry): string[] {
  const urls: string[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'string' && /^[a-z]+:\/\//i.test(value)) urls.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(entry.resource);
  return urls;
}

/**
 * The images an app rendered from this entry names: its Marathon template rendered the way Cosmos
 * renders Mustache with the config defaults and the entry's `resource` (sections are opened both
 * ways, so every branch is looked at), every `"image"` field of the result; and every config
 * default whose key's last word is `image`. Written independently of the product's own scan.
 */
export function renderedImages(entry: RepoEntry): string[] {
  const defaults: Record<string, unknown> = {};
  const configImages: string[] = [];
  const walk = (schema: unknown, target: Record<string, unknown>): void => {
    const properties = (schema as { properties?: Record<string, { default?: unknown; properties?: unknown }> } | undefined)?.properties ?? {};
    for (const [key, property] of Object.entries(properties)) {
      if (property.properties) {
        const child: Record<string, unknown> = {};
        target[key] = child;
        walk(property, child);
      } else if (property.default !== undefined) {
        target[key] = property.default;
        const words = key.split(/[-_.]+|(?<=[a-z0-9])(?=[A-Z])/);
        if (words[words.length - 1]!.toLowerCase() === 'image' && typeof property.default === 'string' && property.default !== '') configImages.push(property.default);
      }
    }
  };
  walk(entry.config, defaults);
  const context: Record<string, unknown> = { ...defaults, resource: entry.resource ?? {} };
  const lookup = (name: string): unknown => name.split('.').reduce<unknown>((value, part) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined), context);
  const encoded = (entry.marathon as { v2AppMustacheTemplate?: string } | undefined)?.v2AppMustacheTemplate;
  const images = [...configImages];
  if (encoded) {
    const rendered = Buffer.from(encoded, 'base64')
      .toString('utf8')
      .replace(/\{\{[#^/][^}]*\}\}/g, '')
      .replace(/\{\{\{?\s*([^{}\s]+)\s*\}?\}\}/g, (_text, name: string) => {
        const value = lookup(name);
        return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
      });
    for (const match of rendered.matchAll(/"image"\s*:\s*"([^"]*)"/g)) if (match[1]) images.push(match[1]);
  }
  return images;
}

/** Fetches a resource URL (following redirects) and checks its bytes against the sha256 it names. */
export async function assertResourceServed(url: string): Promise<void> {
  const digest = /\/sha256(?::|%3A)([0-9a-f]{64})\//.exec(url)?.[1];
  assert.ok(digest, `${url} names a sha256`);
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  assert.ok(response.headers.get('content-type'), `${url} has a Content-Type`);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(Number(response.headers.get('content-length')), bytes.length, `${url} has a Content-Length`);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), digest, url);
}

/** A GET that leaves the body as sent (Node's fetch would gunzip it behind our back). */
export function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}
