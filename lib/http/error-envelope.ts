/**
 * The one place that maps errors to HTTP statuses and the Cosmos error envelope. Errors the
 * registry did not raise on purpose become a plain 500 whose details are logged, not sent.
 */
import { isRegistryError, type ErrorEnvelope } from '../domain/errors.ts';

export const ERROR_MEDIA_TYPE = 'application/vnd.dcos.package.error+json;charset=utf-8;version=v1';

const STATUS_BY_TYPE: Readonly<Record<string, number>> = {
  VersionNotFound: 404,
  PackageNotFound: 404,
  UploadNotFound: 404,
  NotFound: 404,
  PackageAlreadyExists: 409,
  Unauthorized: 401,
  Forbidden: 403,
  InvalidRequest: 400,
  JsonSchemaMismatch: 400,
  MethodNotAllowed: 405,
};

export function errorResponse(error: unknown): { status: number; envelope: ErrorEnvelope; exposed: boolean } {
  if (isRegistryError(error) && error.source === 'user') {
    return { status: STATUS_BY_TYPE[error.type] ?? 400, envelope: error.toEnvelope(), exposed: true };
  }
  if (isRegistryError(error)) {
    return { status: 503, envelope: error.toEnvelope(), exposed: true };
  }
  return { status: 500, envelope: { type: 'InternalError', message: 'The registry failed to handle the request', data: {} }, exposed: false };
}
