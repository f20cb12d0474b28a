/**
 * The streaming ZIP writer produces archives that other tools read, rewinds discarded entries,
 * and switches to zip64 end records when the entry count needs it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileByteSource } from '../../../lib/bundle/byte-source.ts';
import { ZipWriter } from '../../../lib/bundle/zip/zip-writer.ts';
import { ZipArchive } from '../../../lib/bundle/zip/zip-reader.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

async function readAll(path: string): Promise<Map<string, Buffer>> {
  const source = await FileByteSource.open(path);
  try {
    const archive = await ZipArchive.open(source);
    const contents = new Map<string, Buffer>();
    for (const entry of archive.entries.values()) contents.set(entry.name, await archive.readEntry(entry, 1 << 30));
    return contents;
  } finally {
    await source.close();
  }
}

describe('ZipWriter', () => {
  it('writes stored streamed entries and deflated documents that unzip and Python read back', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'a.zip');
    const writer = await ZipWriter.create(path);
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const entry = await writer.beginStoredEntry(`blob/${'0'.repeat(8)}`.length);
    for (let offset = 0; offset < big.length; offset += 65_536) await entry.write(big.subarray(offset, offset + 65_536));
    assert.equal(entry.digest(), createHash('sha256').update(big).digest('hex'));
    await entry.commit('blob/12345678');
    await writer.addBuffer('doc.json', Buffer.from('{"hello":"world"}'.repeat(100)), { deflate: true });
    await writer.finish();

    const contents = await readAll(path);
    assert.deepEqual([...contents.keys()], ['blob/12345678', 'doc.json']);
    assert.ok(contents.get('blob/12345678')!.equals(big));

    const unzip = execFileSync('unzip', ['-t', path], { encoding: 'utf8' });
    assert.match(unzip, /No errors detected/);
    const python = execFileSync('python3', ['-c', 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip()); print(z.getinfo("blob/12345678").compress_type, z.getinfo("blob/12345678").file_size)', path], { encoding: 'utf8' });
    assert.equal(python, `None\n0 ${big.length}\n`);
  });

  it('rewinds a discarded entry so that its bytes are gone', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'b.zip');
    const writer = await ZipWriter.create(path);
    const first = await writer.beginStoredEntry(4);
    await first.write(Buffer.alloc(2 * 1024 * 1024, 1));
    await first.discard();
    const second = await writer.beginStoredEntry(4);
    await second.write(Buffer.from('kept'));
    await second.commit('keep');
    await writer.finish();
    assert.ok((await stat(path)).size < 1024, 'the discarded megabytes are not in the file');
    assert.deepEqual(await readAll(path), new Map([['keep', Buffer.from('kept')]]));
  });

  it('writes zip64 end records past 65,535 entries, and both readers agree', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'many.zip');
    const writer = await ZipWriter.create(path);
    const count = 65_540;
    for (let index = 0; index < count; index++) await writer.addBuffer(`e/${index}`, Buffer.from([index & 0xff]), { deflate: false });
    await writer.finish();
    const bytes = await readFile(path);
    assert.notEqual(bytes.indexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06])), -1, 'has a zip64 end record');
    const contents = await readAll(path);
    assert.equal(contents.size, count);
    assert.deepEqual(contents.get('e/65539'), Buffer.from([65_539 & 0xff]));
    const python = execFileSync('python3', ['-c', 'import sys,zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))', path], { encoding: 'utf8' });
    assert.equal(python.trim(), String(count));
  });

  it('refuses to overwrite an existing file and duplicate names', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'c.zip');
    const writer = await ZipWriter.create(path);
    await writer.addBuffer('x', Buffer.from('1'), { deflate: false });
    await assert.rejects(writer.addBuffer('x', Buffer.from('2'), { deflate: false }), /duplicate zip entry x/);
    await writer.finish();
    await assert.rejects(ZipWriter.create(path), { code: 'EEXIST' });
  });
});
