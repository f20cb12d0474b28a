/** `NAME=VALUE` command-line values (`--url-rewrite FROM=TO`, `--registry-mirror HOST=MIRROR`, …). */
import { PackagingError } from '../domain/errors.ts';

/** Splits at the first `=`; both sides must be non-empty. `shape` names them in the error, e.g. `FROM=TO`. */
export function parseAssignment(option: string, shape: string, text: string): [string, string] {
  const separator = text.indexOf('=');
  if (separator <= 0 || separator === text.length - 1) {
    throw new PackagingError('InvalidOption', `${option} expects ${shape}, got [${text}]`, { value: text });
  }
  return [text.slice(0, separator), text.slice(separator + 1)];
}
