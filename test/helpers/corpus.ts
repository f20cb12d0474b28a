/**
 * The Universe corpus of ../shared/universe (323 package revisions). A user's clone does not have
 * it: tests that sweep it then say so and are skipped, except under CI, where its absence fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const CORPUS_DIR = resolve(process.env.UNIVERSE_CORPUS_DIR ?? join(projectRoot, '..', 'shared', 'universe'));

export interface CorpusRevision {
  readonly directory: string;
  readonly relativePath: string;
  readonly name: string;
  readonly version: string;
  readonly packagingVersion: string;
  readonly hasDockerImages: boolean;
}

/** Undefined when the corpus is present; otherwise the reason to give for skipping. */
export function corpusSkipReason(): string | undefined {
  if (existsSync(join(CORPUS_DIR, 'packages', 'MANIFEST.tsv'))) return undefined;
  const reason = `Universe corpus not found at ${CORPUS_DIR} (set UNIVERSE_CORPUS_DIR to its universe/ folder)`;
  if (process.env.CI) throw new Error(`${reason}: CI must run the corpus tests`);
  return reason;
}

export function corpusRevisions(): CorpusRevision[] {
  const manifest = readFileSync(join(CORPUS_DIR, 'packages', 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const header = manifest[0]!.split('\t');
  const column = (name: string): number => header.indexOf(name);
  return manifest.slice(1).map((line) => {
    const fields = line.split('\t');
    const relativePath = fields[column('path')]!;
    return {
      directory: join(CORPUS_DIR, relativePath),
      relativePath,
      name: fields[column('name')]!,
      version: fields[column('version')]!,
      packagingVersion: fields[column('packagingVersion')]!,
      hasDockerImages: fields[column('docker_images')] === 'yes',
    };
  });
}
