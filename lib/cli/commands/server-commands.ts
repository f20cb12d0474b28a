/** The online half of the CLI: add, describe, remove, list against a running registry. */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { RegistryError } from '../../domain/errors.ts';
import type { CommandRunner } from '../command-runner.ts';
import { createByteProgress } from '../progress.ts';
import { clientFrom, type RegistryClient } from '../registry-client.ts';
import { Bundle } from '../../bundle/bundle-reader.ts';
import { FileByteSource } from '../../bundle/byte-source.ts';
import { contentDigestOf } from '../../registry/content-digest.ts';
import { servedImages } from '../../registry/served-images.ts';

interface UploadTicket {
  uploadId: string;
  upload: { method: 'PUT'; url?: string; parts?: { partNumber: number; url: string; start: number; end: number }[]; headers: Record<string, string> };
}

interface UploadRecord {
  uploadId: string;
  status: 'Uploading' | 'Validating' | 'Accepted' | 'Rejected';
  packages: { name: string; version: string }[];
  error: { type: string; message: string; data: Record<string, unknown> } | null;
  progress?: { phase: 'verifying' | 'recording'; filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number };
}

interface PackageDescription {
  name: string;
  version: string;
  status: string;
  contentDigest?: string;
  releaseVersion: number | null;
  packagingVersion: string;
  addedAt: string;
  updatedAt: string;
  error: { type: string; message: string } | null;
}

/** Between two looks at a server that does not hold requests (one older than long polling). */
const POLL_INTERVAL_MS = 500;
/** How long one request asks the server to hold it until the record changes. */
const WATCH_SECONDS = 20;

export function withServerOptions(command: Command): Command {
  return command
    .option('--url <url>', 'registry URL (default: $DCOS_REGISTRY_URL)')
    .option('--token <token>', 'token to call it with (default: $DCOS_REGISTRY_TOKEN; a shell history keeps what is typed, so prefer the variable)')
    .option('--name <service-name>', 'registry service name (accepted for compatibility; --url selects the registry)')
    .option('--json', 'print the result as one JSON document', false);
}

function timeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1) throw new RegistryError('InvalidOption', `--timeout expects a whole number of seconds, got [${value}]`, {});
  return seconds;
}

/**
 * Follows a record until `done` says it is done: each request is held by the server until the
 * record changes (long polling), so a change is seen within the server's look at storage, not
 * after a sleep here; `seen` gets every version on the way (progress).
 */
async function waitFor<R, T>(what: string, seconds: number, client: RegistryClient, path: string, done: (record: R) => T | undefined, seen: (record: R) => void = () => undefined): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let known: string | undefined;
  for (;;) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    const watched = await client.watch<R>(path, known, Math.max(1, Math.min(WATCH_SECONDS, left)));
    if (watched) {
      seen(watched.value);
      const result = done(watched.value);
      if (result !== undefined) return result;
      known = watched.etag;
      if (!watched.waited || !known) await sleep(POLL_INTERVAL_MS);
    }
    if (Date.now() > deadline) throw new RegistryError('Timeout', `Gave up waiting after ${seconds} s for ${what}; check later with describe`, {});
  }
}

/** The server's phase of an upload, as a person reads it. */
function uploadPhase(record: UploadRecord): string {
  if (record.status === 'Uploading') return 'waiting for the registry to take the bundle';
  const progress = record.progress;
  if (!progress) return 'opening the bundle';
  if (progress.phase === 'recording') return `recording the package (${progress.filesTotal} files verified)`;
  return `verifying ${progress.filesDone}/${progress.filesTotal} files`;
}

export function registerServerCommands(program: Command, run: CommandRunner): void {
  withServerOptions(program.command('add'))
    .description('Upload a .dcos bundle to the registry and wait until it is validated')
    .requiredOption('--dcos-file <file>', 'bundle built by `build`')
    .option('--wait', 'also wait until the package is in the repository (status Added)', false)
    .option('--timeout <seconds>', 'how long to wait', '600')
    .action((options: { dcosFile: string; url?: string; token?: string; json: boolean; wait: boolean; timeout: string }) =>
      run(options.json, async (output) => {
        const seconds = timeoutSeconds(options.timeout);
        const client = clientFrom(options);
        let size: number;
        try {
          size = (await stat(options.dcosFile)).size;
        } catch {
          throw new RegistryError('FileNotFound', `The file [${options.dcosFile}] does not exist`, { path: options.dcosFile });
        }
        // Before any byte goes up: the file is a bundle, and its version is not already there.
        const preflight = await preflightBundle(options.dcosFile);
        const existing = await client.request<PackageDescription>('GET', packagePath(preflight.name, preflight.version)).catch((error: unknown) => {
          if (error instanceof RegistryError && error.type === 'VersionNotFound') return undefined;
          throw error;
        });
        if (existing && (existing.status === 'Added' || existing.status === 'Processing' || existing.status === 'Removing')) {
          if (existing.contentDigest !== preflight.contentDigest) {
            throw new RegistryError('PackageAlreadyExists', `Package [${preflight.name}] version [${preflight.version}] already exists with different content; remove it first`, { packageName: preflight.name, packageVersion: preflight.version });
          }
          if (existing.status === 'Added') {
            output.result(`Package ${preflight.name} ${preflight.version} is already in the registry with this content: nothing to upload`, { packages: [{ name: preflight.name, version: preflight.version }], unchanged: true });
            return;
          }
        }
        const ticket = await client.request<UploadTicket>('POST', '/v1/uploads', { fileName: options.dcosFile.split('/').pop(), size });
        const progress = createByteProgress(output);
        progress.start('File Upload progress:', size);
        let completion: { parts: { partNumber: number; etag: string }[] } | undefined;
        if (ticket.upload.parts) {
          // Large bundles go up in parts, one after the other, straight to storage.
          const parts: { partNumber: number; etag: string }[] = [];
          let done = 0;
          for (const part of ticket.upload.parts) {
            const etag = await client.uploadFile(part.url, options.dcosFile, ticket.upload.headers, (sent) => progress.update(done + sent, size), part);
            done += part.end - part.start + 1;
            parts.push({ partNumber: part.partNumber, etag });
          }
          completion = { parts };
        } else if (ticket.upload.url) {
          await client.uploadFile(ticket.upload.url, options.dcosFile, ticket.upload.headers, (sent) => progress.update(sent, size));
        } else {
          throw new RegistryError('UploadFailed', 'The registry gave no place to upload to', { uploadId: ticket.uploadId });
        }
        progress.stop();
        await client.request('POST', `/v1/uploads/${ticket.uploadId}/complete`, completion);
        let phase = '';
        const record = await waitFor<UploadRecord, UploadRecord>(
          `the validation of upload ${ticket.uploadId}`,
          seconds,
          client,
          `/v1/uploads/${ticket.uploadId}`,
          (current) => (current.status === 'Accepted' || current.status === 'Rejected' ? current : undefined),
          (current) => {
            if (current.status !== 'Validating' && current.status !== 'Uploading') return progress.stop();
            const next = uploadPhase(current);
            if (next !== phase) {
              phase = next;
              // On a terminal, the bar names the phase; elsewhere nothing is drawn.
              progress.start(`${next}:`, current.progress?.bytesTotal);
            }
            if (current.progress) progress.update(current.progress.bytesDone, current.progress.bytesTotal);
          },
        );
        progress.stop();
        if (record.status === 'Rejected') {
          const error = record.error ?? { type: 'Rejected', message: 'The registry rejected the bundle', data: {} };
          throw new RegistryError(error.type, error.message, { ...error.data, uploadId: ticket.uploadId });
        }
        if (options.wait) {
          for (const pkg of record.packages) await waitUntilAdded(client, pkg.name, pkg.version, seconds);
        }
        const lines = [
          'Package uploaded successfully. Please wait while it is being validated..',
          'Added packages:',
          ...record.packages.map((pkg) => `\t ${pkg.name} ${pkg.version}`),
          ...(options.wait ? [] : ['Note: It will take a couple of minutes for the packages to be added to the registry']),
        ];
        output.result(lines.join('\n'), { uploadId: ticket.uploadId, packages: record.packages.map(({ name, version }) => ({ name, version })) });
      }),
    );

  withServerOptions(program.command('describe'))
    .description('Show the status of a package version in the registry')
    .requiredOption('--package-name <name>', 'package name')
    .requiredOption('--package-version <version>', 'package version')
    .action((options: { packageName: string; packageVersion: string; url?: string; token?: string; json: boolean }) =>
      run(options.json, async (output) => {
        const client = clientFrom(options);
        const pkg = await client.request<PackageDescription>('GET', packagePath(options.packageName, options.packageVersion));
        const lines = [
          `Package: ${pkg.name} ${pkg.version}`,
          `Status: ${pkg.status}`,
          `Release version: ${pkg.releaseVersion ?? '-'}`,
          `Packaging version: ${pkg.packagingVersion}`,
          `Added: ${pkg.addedAt}`,
          `Updated: ${pkg.updatedAt}`,
          ...(pkg.error ? [`Error: ${pkg.error.message}`] : []),
        ];
        output.result(lines.join('\n'), pkg);
      }),
    );

  withServerOptions(program.command('remove'))
    .description('Remove a package version and the files no other package uses')
    .requiredOption('--package-name <name>', 'package name')
    .requiredOption('--package-version <version>', 'package version')
    .option('--no-wait', 'return once the removal is accepted, without waiting for it to finish')
    .option('--timeout <seconds>', 'how long to wait', '300')
    .action((options: { packageName: string; packageVersion: string; url?: string; token?: string; json: boolean; wait: boolean; timeout: string }) =>
      run(options.json, async (output) => {
        const seconds = timeoutSeconds(options.timeout);
        const client = clientFrom(options);
        const path = packagePath(options.packageName, options.packageVersion);
        await client.request('DELETE', path);
        let status = 'Removing';
        if (options.wait) {
          // Followed until the version is gone (its describe answers VersionNotFound).
          try {
            await waitFor<PackageDescription, never>(`the removal of ${options.packageName} ${options.packageVersion}`, seconds, client, path, () => undefined);
          } catch (error) {
            if (!(error instanceof RegistryError && error.type === 'VersionNotFound')) throw error;
          }
          status = 'Removed';
        }
        const text = status === 'Removed' ? `Removed package ${options.packageName} ${options.packageVersion}` : `Removing package ${options.packageName} ${options.packageVersion}`;
        output.result(text, { name: options.packageName, version: options.packageVersion, status });
      }),
    );

  withServerOptions(program.command('list'))
    .description('List the package versions in the registry')
    .option('--package-name <name>', 'only this package')
    .action((options: { packageName?: string; url?: string; token?: string; json: boolean }) =>
      run(options.json, async (output) => {
        const client = clientFrom(options);
        // Every page of the catalog, one request each.
        const packages: PackageDescription[] = [];
        let cursor: string | undefined;
        do {
          const query = new URLSearchParams({ ...(options.packageName ? { name: options.packageName } : {}), ...(cursor ? { cursor } : {}) }).toString();
          const page = await client.request<{ packages?: unknown; nextCursor?: string } | undefined>('GET', `/v1/packages${query ? `?${query}` : ''}`);
          if (!page || !Array.isArray(page.packages)) throw new RegistryError('NotARegistry', 'The server answered /v1/packages with no package list: is this the registry\'s URL?', {});
          packages.push(...(page.packages as PackageDescription[]));
          cursor = page.nextCursor;
        } while (cursor);
        const rows = packages.map((pkg) => [pkg.name, pkg.version, pkg.status, String(pkg.releaseVersion ?? '-')]);
        const header = ['NAME', 'VERSION', 'STATUS', 'RELEASE'];
        const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
        const format = (row: string[]): string => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
        output.result([format(header), ...rows.map(format)].join('\n'), { packages });
      }),
    );
}

/**
 * The bundle read locally as the registry will read it (its end records, central directory and
 * documents; not every file's digest): a file that is not a bundle is named and refused here, not
 * after the whole upload. Its name, version and content digest, to compare with what is stored.
 */
async function preflightBundle(file: string): Promise<{ name: string; version: string; contentDigest: string }> {
  const source = await FileByteSource.open(file);
  try {
    const bundle = await Bundle.open(source);
    const served = await servedImages(bundle);
    return { name: bundle.metadata.name, version: bundle.metadata.version, contentDigest: contentDigestOf(bundle.metadata, { ...bundle.manifest, images: served.images }) };
  } catch (error) {
    if (error instanceof RegistryError) throw new RegistryError(error.type, `The file [${file}] is not a bundle the registry takes: ${error.message}`, { ...error.data, path: file });
    throw error;
  } finally {
    await source.close();
  }
}

function packagePath(name: string, version: string): string {
  return `/v1/packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
}

async function waitUntilAdded(client: RegistryClient, name: string, version: string, seconds: number): Promise<void> {
  await waitFor<PackageDescription, true>(`${name} ${version} to be added`, seconds, client, packagePath(name, version), (pkg) => {
    if (pkg.status === 'Failed') throw new RegistryError(pkg.error?.type ?? 'Failed', pkg.error?.message ?? `${name} ${version} failed`, {});
    return pkg.status === 'Added' ? true : undefined;
  });
}
