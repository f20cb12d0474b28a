/**
 * The digest that names a package version's content (its record's `contentDigest`): the sha256
 * of the sha256 of its metadata and of its manifest as served. One function, so the registry
 * (ingest) and the CLI (a preflight before an upload) compute the same value from one bundle.
 */
import { createHash } from 'node:crypto';
import type { BundleManifest } from '../bundle/bundle-layout.ts';
import type { PackageMetadata } from '../universe/package-model.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function contentDigestOf(metadata: PackageMetadata, servedManifest: BundleManifest): string {
  const metadataBytes = Buffer.from(JSON.stringify(metadata));
  const manifestBytes = Buffer.from(JSON.stringify(servedManifest));
  return sha256(Buffer.concat([Buffer.from(sha256(metadataBytes)), Buffer.from(sha256(manifestBytes))]));
}
