/** The registry's own failures, each with the Cosmos-style type and message the API returns. */
import { RegistryError } from '../domain/errors.ts';

export class VersionNotFoundError extends RegistryError {
  constructor(name: string, version: string) {
    super('VersionNotFound', `Version [${version}] of package [${name}] not found`, { packageName: name, packageVersion: version });
    this.name = 'VersionNotFoundError';
  }
}

export class PackageAlreadyExistsError extends RegistryError {
  constructor(name: string, version: string) {
    super('PackageAlreadyExists', `Package [${name}] version [${version}] already exists with different content; remove it first`, {
      packageName: name,
      packageVersion: version,
    });
    this.name = 'PackageAlreadyExistsError';
  }
}

export class UploadNotFoundError extends RegistryError {
  constructor(uploadId: string) {
    super('UploadNotFound', `Upload [${uploadId}] not found`, { uploadId });
    this.name = 'UploadNotFoundError';
  }
}

export class InvalidRequestError extends RegistryError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('InvalidRequest', message, data);
    this.name = 'InvalidRequestError';
  }
}

export class UnauthorizedError extends RegistryError {
  constructor(message: string) {
    super('Unauthorized', message, {});
    this.name = 'UnauthorizedError';
  }
}

/** A valid credential whose scope does not cover the call (403; 401 is for no or a bad credential). */
export class ForbiddenError extends RegistryError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('Forbidden', message, data);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends RegistryError {
  constructor(message: string, data: Record<string, unknown> = {}) {
    super('NotFound', message, data);
    this.name = 'NotFoundError';
  }
}

export class ResourceMissingError extends RegistryError {
  constructor(sha256: string) {
    super('ResourceMissing', `Stored resource sha256:${sha256} is missing`, { sha256 }, { source: 'internal' });
    this.name = 'ResourceMissingError';
  }
}

/** A package whose name and version are too long for the storage keys derived from them. */
export class PackageCoordinateTooLongError extends RegistryError {
  constructor(name: string, version: string, keyLength: number, reason = `${keyLength} bytes of key, at most 900`) {
    super(
      'PackageCoordinateTooLong',
      `Package [${name.length > 80 ? `${name.slice(0, 80)}…` : name}] version [${version.length > 80 ? `${version.slice(0, 80)}…` : version}] has a name and version too long to store (a storage key ${reason}): shorten them`,
      { nameLength: name.length, versionLength: version.length, keyLength },
    );
    this.name = 'PackageCoordinateTooLongError';
  }
}

/** A job that cannot succeed as it is (its data is missing or would break the index): recorded, never retried. */
export class PermanentJobError extends RegistryError {
  constructor(type: string, message: string, data: Record<string, unknown> = {}) {
    super(type, message, data, { source: 'internal' });
    this.name = 'PermanentJobError';
  }
}
