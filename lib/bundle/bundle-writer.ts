/**
 * Writes a `.dcos` bundle: resources are streamed in one at a time and stored once per distinct
 * content; metadata.json and manifest.json close the archive. Everything goes to a hidden partial
 * file beside the target, renamed into place only when the archive is complete, so a failed or
 * interrupted build never leaves a `.dcos` behind.
 */
import { removeIfInterrupted } from '../support/interrupt-cleanup.ts';
import { randomBytes, type KeyObject } from 'node:crypto';
import { sha256Hex, SIGNATURE_ENTRY, signBundle } from '../signing/bundle-signature.ts';
import { link, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PackagingError } from '../domain/errors.ts';
import type { PackageMetadata } from '../universe/package-model.ts';
import { OCI_INDEX } from '../images/media-types.ts';
import {
  contentEntryName,
  IMAGE_BLOB_NAME_LENGTH,
  IMAGES_INDEX_ENTRY,
  IMAGES_LAYOUT_ENTRY,
  MANIFEST_ENTRY,
  METADATA_ENTRY,
  OCI_LAYOUT_DOCUMENT,
  RESOURCE_ENTRY_NAME_LENGTH,
  type BundleManifest,
  type ContentKind,
} from './bundle-layout.ts';
import { ZipWriter, type StreamingEntry } from './zip/zip-writer.ts';

export interface StoredResource {
  readonly sha256: string;
  readonly size: number;
  /** False when identical content was already in the bundle and this copy was dropped. */
  readonly stored: boolean;
}

export class BundleWriter {
  private constructor(
    private readonly zip: ZipWriter,
    private readonly partialPath: string,
    readonly targetPath: string,
    private readonly overwrite: boolean,
    private readonly kept: () => void = removeIfInterrupted(partialPath),
  ) {}

  static async create(targetPath: string, options: { overwrite: boolean }): Promise<BundleWriter> {
    const partialPath = join(dirname(targetPath), `.${basename(targetPath)}.partial-${randomBytes(6).toString('hex')}`);
    return new BundleWriter(await ZipWriter.create(partialPath), partialPath, targetPath, options.overwrite);
  }

  get bytesWritten(): number {
    return this.zip.bytesWritten;
  }

  /** Opens a resource; write its bytes, then `complete()` it (or `discard()` to start over). */
  async beginResource(): Promise<ResourceUpload> {
    return new ResourceUpload(this.zip, await this.zip.beginStoredEntry(RESOURCE_ENTRY_NAME_LENGTH), 'resource');
  }

  /** Opens a Docker image blob (layer, config or manifest) of the bundle's OCI layout. */
  async beginImageBlob(): Promise<ResourceUpload> {
    return new ResourceUpload(this.zip, await this.zip.beginStoredEntry(IMAGE_BLOB_NAME_LENGTH), 'image-blob');
  }

  hasImageBlob(sha256: string): boolean {
    return this.zip.has(contentEntryName('image-blob', sha256));
  }

  /** `signingKey`: an Ed25519 key; the bundle then carries a signature of what it holds (lib/signing). */
  async finish(metadata: PackageMetadata, manifest: BundleManifest, options: { signingKey?: KeyObject } = {}): Promise<void> {
    if (manifest.images.length > 0) {
      // The OCI image layout's own files, so that OCI tools can read images/ as it is.
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: manifest.images.map((image) => ({
          mediaType: image.mediaType,
          digest: image.digest,
          size: image.size,
          annotations: { 'org.opencontainers.image.ref.name': image.image },
        })),
      };
      await this.zip.addBuffer(IMAGES_LAYOUT_ENTRY, Buffer.from(JSON.stringify(OCI_LAYOUT_DOCUMENT)), { deflate: false });
      await this.zip.addBuffer(IMAGES_INDEX_ENTRY, Buffer.from(JSON.stringify(index, null, 2)), { deflate: false });
    }
    const metadataBytes = Buffer.from(JSON.stringify(metadata, null, 2));
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
    // Stored, not deflated: a deflate stream's last byte has padding bits that inflate ignores, so
    // a deflated document could be changed without a change to what it holds (or to what a
    // signature covers). Every byte of a stored one is its content. They are small.
    await this.zip.addBuffer(METADATA_ENTRY, metadataBytes, { deflate: false });
    await this.zip.addBuffer(MANIFEST_ENTRY, manifestBytes, { deflate: false });
    if (options.signingKey) {
      // Over the bytes just written: the signature covers them as they are, and changes none.
      const envelope = signBundle(options.signingKey, { name: metadata.name, version: metadata.version, metadataSha256: sha256Hex(metadataBytes), manifestSha256: sha256Hex(manifestBytes) });
      await this.zip.addBuffer(SIGNATURE_ENTRY, Buffer.from(JSON.stringify(envelope, null, 2)), { deflate: false });
    }
    await this.zip.finish();
    if (this.overwrite) {
      await rename(this.partialPath, this.targetPath);
      this.kept();
      return;
    }
    try {
      // link() fails when the target exists, so two builds racing for one name cannot clobber each other.
      await link(this.partialPath, this.targetPath);
    } catch (error) {
      await rm(this.partialPath, { force: true });
      this.kept();
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new PackagingError('OutputExists', `Output file [${this.targetPath}] already exists (use --force to replace it)`, { path: this.targetPath });
      }
      throw error;
    }
    await rm(this.partialPath, { force: true });
    this.kept();
  }

  async abort(): Promise<void> {
    await this.zip.abort();
    await rm(this.partialPath, { force: true });
    this.kept();
  }
}

export class ResourceUpload {
  constructor(
    private readonly zip: ZipWriter,
    private readonly entry: StreamingEntry,
    private readonly kind: ContentKind,
  ) {}

  get bytes(): number {
    return this.entry.bytes;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.entry.write(chunk);
  }

  async complete(): Promise<StoredResource> {
    const sha256 = this.entry.digest();
    const size = this.entry.bytes;
    const name = contentEntryName(this.kind, sha256);
    if (this.zip.has(name)) {
      await this.entry.discard();
      return { sha256, size, stored: false };
    }
    await this.entry.commit(name);
    return { sha256, size, stored: true };
  }

  discard(): Promise<void> {
    return this.entry.discard();
  }
}
