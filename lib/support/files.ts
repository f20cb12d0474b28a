/** File helpers with errors a person can act on: the path is always named. */
import { removeIfInterrupted } from './interrupt-cleanup.ts';
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PackagingError } from '../domain/errors.ts';

export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw fileError(path, error);
  }
}

export async function readBinaryFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw fileError(path, error);
  }
}

/** Parses a JSON file, keeping key order; a syntax error names the file. */
export async function readJsonFile(path: string): Promise<unknown> {
  const text = await readTextFile(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PackagingError('InvalidJson', `The file [${path}] is not valid JSON: ${(error as Error).message}`, { path });
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function ensureDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    throw new PackagingError('OutputDirectoryUnusable', `The output directory [${path}] cannot be created: ${(error as Error).message}`, { path });
  }
}

/**
 * Writes `content` to `path` through a temporary file, so a reader never sees half a file.
 * Without `overwrite`, an existing file is refused (atomically: link() fails on an existing name).
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: { overwrite: boolean }): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.partial-${randomBytes(6).toString('hex')}`);
  const written = removeIfInterrupted(temporary);
  await writeFile(temporary, content, { flag: 'wx' });
  try {
    if (options.overwrite) {
      await rename(temporary, path);
      return;
    }
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PackagingError('OutputExists', `Output file [${path}] already exists (use --force to replace it)`, { path });
    }
    throw error;
  } finally {
    await rm(temporary, { force: true });
    written();
  }
}

function fileError(path: string, error: unknown): PackagingError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new PackagingError('FileNotFound', `The file [${path}] does not exist`, { path });
  if (code === 'EISDIR') return new PackagingError('FileNotFound', `The file [${path}] is a directory`, { path });
  return new PackagingError('FileUnreadable', `Error opening file [${path}]: ${(error as Error).message}`, { path }, { cause: error });
}
