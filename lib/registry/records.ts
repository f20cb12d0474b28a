/** The records the registry keeps about uploads and packages. */
import type { ErrorEnvelope } from '../domain/errors.ts';
import type { PackageCoordinate } from '../universe/coordinate.ts';

export type UploadStatus = 'Uploading' | 'Validating' | 'Accepted' | 'Rejected';

export interface UploadRecord {
  readonly uploadId: string;
  readonly status: UploadStatus;
  readonly bundleKey: string;
  readonly fileName?: string;
  readonly size?: number;
  /** Who created the upload (a token fingerprint), for the audit trail. */
  readonly uploadedBy?: string;
  /** For uploads in parts: the store's multipart upload, completed by POST …/complete. */
  readonly multipart?: { readonly uploadId: string; readonly partBytes: number; readonly parts: number };
  /**
   * Which stored bundle object this record is about: ETag, size and last-modified time together
   * (on S3 an ETag is an MD5, so the same bytes dropped again later have the same ETag; the time
   * tells the two objects apart). A repeated event for the same object is a no-op.
   */
  readonly bundleIdentity?: string;
  /** The ingest attempt that holds the upload while it is Validating; its heartbeat is updatedAt. */
  readonly attemptId?: string;
  /** Ingest attempts of this bundle so far; internal failures are retried a bounded number of times. */
  readonly attempts?: number;
  /** The last internal failure of an attempt, while attempts remain. */
  readonly lastError?: ErrorEnvelope;
  readonly packages: readonly PackageCoordinate[];
  readonly error: ErrorEnvelope | null;
  /** While Validating: how far the attempt has got (written with its heartbeat, at most once a second). */
  readonly progress?: IngestProgress;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What an ingest attempt is doing: checking the bundle's files into storage, then recording the package. */
export interface IngestProgress {
  readonly phase: 'verifying' | 'recording';
  /** Files (resources and image blobs) checked and stored, of the bundle's. */
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface PublishedImage {
  readonly repository: string;
  readonly tag?: string;
  /** Digest and media type of the manifest the tag names. */
  readonly digest: string;
  readonly mediaType: string;
}

/**
 * `Removed` is a tombstone: the record a removal leaves instead of deleting it, so that every
 * change to a record stays a conditional write (a late duplicate removal can never delete a
 * version added again since). The API treats it as absent; an ingest replaces it as it replaces
 * a Failed one.
 */
export type PackageStatus = 'Processing' | 'Added' | 'Failed' | 'Removing' | 'Removed';

export interface PackageRecord {
  readonly name: string;
  readonly version: string;
  readonly packagingVersion: string;
  readonly status: PackageStatus;
  readonly releaseVersion: number | null;
  /** sha256 of metadata.json and manifest.json as stored: identifies the bundle's content. */
  readonly contentDigest: string;
  readonly uploadId: string;
  readonly resources: readonly string[];
  /** Docker image blobs (sha256 hex) and the tags the package publishes. */
  readonly imageBlobs?: readonly string[];
  readonly images?: readonly PublishedImage[];
  readonly addedAt: string;
  readonly updatedAt: string;
  readonly error: ErrorEnvelope | null;
  /** Times the reconciler queued this record's job again because it stayed Processing or Removing. */
  readonly requeues?: number;
  /** Key id of the bundle's signer, when the registry trusts keys and checked the signature. */
  readonly signedBy?: string;
}

/** The states a record leaves on its own; a record in one of these for too long is stuck. */
export const TRANSIENT_UPLOAD_STATES: ReadonlySet<UploadStatus> = new Set(['Uploading', 'Validating']);
export const TRANSIENT_PACKAGE_STATES: ReadonlySet<PackageStatus> = new Set(['Processing', 'Removing']);

/** A record an ingest may replace: the version is not in the registry. */
export function isReplaceableRecord(record: PackageRecord): boolean {
  return record.status === 'Failed' || record.status === 'Removed';
}

/** Records whose files are live: everything they name must stay stored. */
export function isLiveRecord(record: PackageRecord): boolean {
  return record.status === 'Processing' || record.status === 'Added' || record.status === 'Removing';
}

/** What `describe` answers (GET /v1/packages/{name}/{version}), and a row of the catalog. */
export interface PackageDescription {
  readonly name: string;
  readonly version: string;
  readonly packagingVersion: string;
  readonly status: PackageStatus;
  readonly releaseVersion: number | null;
  readonly uploadId: string;
  readonly contentDigest: string;
  readonly addedAt: string;
  readonly updatedAt: string;
  readonly error: ErrorEnvelope | null;
  readonly signedBy?: string;
}

export function describePackage(record: PackageRecord): PackageDescription {
  return {
    name: record.name,
    version: record.version,
    packagingVersion: record.packagingVersion,
    status: record.status,
    releaseVersion: record.releaseVersion,
    uploadId: record.uploadId,
    contentDigest: record.contentDigest,
    addedAt: record.addedAt,
    updatedAt: record.updatedAt,
    error: record.error,
    ...(record.signedBy ? { signedBy: record.signedBy } : {}),
  };
}
