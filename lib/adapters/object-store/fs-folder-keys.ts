/**
 * The keys one folder of the fs store holds, sorted, as its listing walks them (a folder's own
 * with their slash), and a cache of them for large folders between the pages of a walk.
 *
 * Why a cache: a walk of every key (a reindex, a garbage collection) lists a page of a thousand at
 * a time, and each page read the folder of every package again: at ten thousand versions, forty
 * reads of a ten-thousand-name folder, each holding the event loop ~10 ms to build its names
 * (more on a loaded machine: 71 ms was seen), so a walk cost pages × folder size.
 *
 * Why it is sound: a cached list is used only while the folder's mtime is the one it had when the
 * list was read, and only if that mtime was already older than the read by more than any clock
 * tick of a file system (so a change during or after the read, which stamps the folder with the
 * time of the change, always gives another mtime). Adding or removing an entry changes a folder's
 * mtime; what happens inside its subfolders does not, and those are read afresh. Writes through
 * this process also drop the entries of the folders they touch, before the folder's clock would.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Folders smaller than this are read afresh each time (cheap, and most of them). */
const CACHED_FOLDER_MIN_NAMES = 1024;
/** How many large folders are remembered (least recently used dropped first). */
const CACHED_FOLDERS_MAX = 16;
/** An mtime this much older than the read is stable: above FAT's 2 s, ext4's and NFS's ticks. */
const STABLE_MTIME_MARGIN_MS = 2_500;

export interface FolderNames {
  /** Object suffix (`.obj`) and suffix of a write in progress (`.tmp`): see collectPage. */
  readonly objectSuffix: string;
  readonly temporarySuffix: string;
  /** Folders at the root that are the store's own, not keys (listed by no walk). */
  readonly hiddenRootNames?: ReadonlySet<string>;
}

interface CachedFolder {
  readonly mtimeMs: number;
  readonly keys: readonly string[];
}

export class FolderKeys {
  private readonly cache = new Map<string, CachedFolder>();

  constructor(private readonly names: FolderNames) {}

  /**
   * The sorted keys of `directory` whose key is `directoryKey` (`''` for the root), or undefined
   * when it is gone (or is not a folder).
   */
  async keysOf(directory: string, directoryKey: string): Promise<readonly string[] | undefined> {
    const cached = this.cache.get(directory);
    if (cached) {
      const mtimeMs = await mtimeOf(directory);
      if (mtimeMs === cached.mtimeMs) {
        // Most recently used last.
        this.cache.delete(directory);
        this.cache.set(directory, cached);
        return cached.keys;
      }
      this.cache.delete(directory);
    }
    const readStarted = Date.now();
    const keys = await this.read(directory, directoryKey);
    if (keys === undefined || keys.length < CACHED_FOLDER_MIN_NAMES) return keys;
    const mtimeMs = await mtimeOf(directory);
    if (mtimeMs !== undefined && mtimeMs <= readStarted - STABLE_MTIME_MARGIN_MS) {
      this.cache.set(directory, { mtimeMs, keys });
      if (this.cache.size > CACHED_FOLDERS_MAX) this.cache.delete(this.cache.keys().next().value!);
    }
    return keys;
  }

  /** Forgets what is cached of the folders on the way to `path` (a write or delete there). */
  touched(path: string): void {
    if (this.cache.size === 0) return;
    for (let folder = dirname(path); ; folder = dirname(folder)) {
      this.cache.delete(folder);
      if (dirname(folder) === folder) return;
    }
  }

  private async read(directory: string, directoryKey: string): Promise<string[] | undefined> {
    const { objectSuffix, temporarySuffix, hiddenRootNames: hidden } = this.names;
    // Names first: a folder of ten thousand package folders read with file types built as many
    // Dirent objects in one turn (24 ms, and their garbage). Types are read only for a folder
    // holding a name an object or a write in progress could have: `app.obj` and `1.0.tmp` are
    // valid key segments too (a Docker repository, a tag), so a folder may end in either; a name
    // without those endings is a folder (or a stray file, whose readdir fails as ENOTDIR).
    let names: string[];
    try {
      names = await readdir(directory);
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
    const base = directoryKey === '' ? '' : `${directoryKey}/`;
    // As strings only, sorted natively: a page of a large folder then costs a search for where
    // it starts, not a walk of every entry with the garbage of an object per entry.
    const keys: string[] = [];
    if (names.some((name) => name.endsWith(objectSuffix) || name.endsWith(temporarySuffix))) {
      let entries;
      try {
        entries = await readdir(directory, { withFileTypes: true });
      } catch (error) {
        if (isGone(error)) return undefined;
        throw error;
      }
      for (const entry of entries) {
        if (entry.isDirectory()) {
          if (!(base === '' && hidden?.has(entry.name))) keys.push(`${base}${entry.name}/`);
        }
        else if (entry.name.endsWith(objectSuffix)) keys.push(`${base}${entry.name.slice(0, -objectSuffix.length)}`);
      }
    } else {
      for (const name of names) if (!(base === '' && hidden?.has(name))) keys.push(`${base}${name}/`);
    }
    return keys.sort();
  }
}

async function mtimeOf(directory: string): Promise<number | undefined> {
  try {
    return (await stat(directory)).mtimeMs;
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
