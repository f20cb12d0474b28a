/**
 * Why a bundle is refused. Every reason is its own envelope `type`, so a Failed upload tells the
 * operator exactly what is wrong (and a test can assert which check fired).
 */
import { RegistryError, type ErrorData } from '../domain/errors.ts';

export type BundleFailure =
  | 'UnreadableArchive'
  | 'TruncatedArchive'
  | 'UnsafeEntryName'
  | 'DuplicateEntry'
  | 'EntrySizeMismatch'
  | 'DocumentTooLarge'
  | 'CompressionRatioExceeded'
  | 'UnsupportedEntry'
  | 'ChecksumMismatch'
  | 'DigestMismatch'
  | 'MissingEntry'
  | 'InvalidEntry'
  | 'ManifestMismatch';

export class InvalidBundleError extends RegistryError {
  readonly reason: BundleFailure;

  constructor(reason: BundleFailure, message: string, data: ErrorData = {}, options: { cause?: unknown } = {}) {
    super(reason, message, data, options);
    this.name = 'InvalidBundleError';
    this.reason = reason;
  }
}

export function isInvalidBundleError(value: unknown): value is InvalidBundleError {
  return value instanceof InvalidBundleError;
}
