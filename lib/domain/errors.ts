/**
 * The root of every error the product raises on purpose.
 *
 * Each error serialises to the Cosmos error envelope `{"type","message","data"}`: `type` names the
 * failure for machines, `message` is the sentence a person reads (the CLI prints it to stderr),
 * `data` carries the fields that identify what failed. `source` tells whether the caller can fix
 * it (`user`: bad input, missing file, conflict) or the system failed (`internal`).
 */
export type ErrorData = Readonly<Record<string, unknown>>;

export interface ErrorEnvelope {
  readonly type: string;
  readonly message: string;
  readonly data: ErrorData;
}

export class RegistryError extends Error {
  readonly type: string;
  readonly data: ErrorData;
  readonly source: 'user' | 'internal';

  constructor(
    type: string,
    message: string,
    data: ErrorData = {},
    options: { cause?: unknown; source?: 'user' | 'internal' } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.type = type;
    this.data = data;
    this.source = options.source ?? 'user';
  }

  toEnvelope(): ErrorEnvelope {
    return { type: this.type, message: this.message, data: this.data };
  }
}

export function isRegistryError(value: unknown): value is RegistryError {
  return value instanceof RegistryError;
}

/** A JSON document did not match the schema it must follow. */
export class SchemaValidationError extends RegistryError {
  constructor(message: string, data: { document: string; errors: readonly string[] }) {
    super('JsonSchemaMismatch', message, data);
    this.name = 'SchemaValidationError';
  }
}

/** A package directory or build definition cannot be turned into what was asked. */
export class PackagingError extends RegistryError {
  constructor(type: string, message: string, data: ErrorData = {}, options: { cause?: unknown } = {}) {
    super(type, message, data, options);
    this.name = 'PackagingError';
  }
}

/** Downloading an asset failed: the URL is always named. */
export class DownloadError extends RegistryError {
  constructor(message: string, data: { url: string; [key: string]: unknown }, options: { cause?: unknown } = {}) {
    super('DownloadFailed', message, data, options);
    this.name = 'DownloadError';
  }
}
