/**
 * All CLI output goes through here. The result goes to stdout (one JSON document under --json);
 * progress, warnings and errors go to stderr, so stdout stays parseable and pipeable.
 */
import type { Writable } from 'node:stream';
import { isRegistryError } from '../domain/errors.ts';

export interface CliStreams {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
}

export class CliOutput {
  constructor(
    readonly streams: CliStreams,
    readonly json: boolean,
  ) {}

  get interactive(): boolean {
    return this.streams.stderr.isTTY === true && process.env.CI === undefined;
  }

  /** The command's result: its text lines, or its JSON document under --json. */
  result(text: string, document: unknown): void {
    this.streams.stdout.write(this.json ? `${JSON.stringify(document)}\n` : `${text}\n`);
  }

  info(line: string): void {
    this.streams.stderr.write(`${line}\n`);
  }

  warn(line: string): void {
    this.streams.stderr.write(`Warning: ${line}\n`);
  }

  /** Prints an error to stderr: the message, or the Cosmos-style envelope under --json. */
  error(error: unknown): void {
    if (isRegistryError(error)) {
      this.streams.stderr.write(this.json ? `${JSON.stringify(error.toEnvelope())}\n` : `${error.message}\n`);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const envelope = { type: 'InternalError', message: `Unexpected error: ${message}`, data: {} };
    this.streams.stderr.write(this.json ? `${JSON.stringify(envelope)}\n` : `${envelope.message}\n`);
    if (process.env.DCOS_REGISTRY_DEBUG && error instanceof Error && error.stack) this.streams.stderr.write(`${error.stack}\n`);
  }
}
