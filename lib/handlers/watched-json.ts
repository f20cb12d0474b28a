/**
 * A record as JSON with its ETag, answered at once, or, when the client already has this version
 * (`If-None-Match`) and says it will wait (`Prefer: wait=N`), as soon as it changes: 304 when it
 * did not within the wait (record-watch.ts).
 */
import { header, json, type HttpEvent, type HttpResult } from '../http/api-gateway.ts';
import { matchesEtag } from '../http/entity-tags.ts';
import type { RegistryContext } from '../registry/context.ts';
import { preferredWaitSeconds, waitForChange } from '../registry/record-watch.ts';

interface Read<T> {
  readonly value: T;
  readonly etag: string;
  readonly key: string;
}

/** The store's version token as an HTTP entity tag (opaque; quoted once). */
const entityTag = (etag: string): string => `"${etag.replace(/"/g, '')}"`;

export async function watchedJson<T>(event: HttpEvent, context: RegistryContext, read: () => Promise<Read<T>>, shape: (value: T) => unknown): Promise<HttpResult> {
  let current = await read();
  const known = header(event, 'if-none-match');
  const waitSeconds = preferredWaitSeconds(header(event, 'prefer'));
  const applied: Record<string, string> = waitSeconds > 0 ? { 'preference-applied': `wait=${waitSeconds}` } : {};
  if (matchesEtag(known, entityTag(current.etag))) {
    if (waitSeconds > 0 && (await waitForChange(context.store, current.key, current.etag, waitSeconds * 1000, context.settings.recordPollMs))) current = await read();
    if (matchesEtag(known, entityTag(current.etag))) return { statusCode: 304, headers: { etag: entityTag(current.etag), ...applied }, body: '' };
  }
  return json(200, shape(current.value), { etag: entityTag(current.etag), 'cache-control': 'no-store', ...applied });
}
