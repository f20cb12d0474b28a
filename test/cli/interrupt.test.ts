/**
 * Ctrl-C in the middle of `build` (issue 13, item 3): the built CLI, a download that stalls after
 * its first bytes, and the interrupt sent while the partial bundle is on disk. The command exits
 * 130 at once (143 for SIGTERM), leaves no file in the output directory, says so (as one JSON
 * envelope under --json), and on a terminal shows the cursor its progress bar hid. The terminal
 * case runs under `script`, which gives the CLI a pseudo-terminal, and types Ctrl-C into it: the
 * terminal's own line discipline sends the signal, as a user's keyboard does.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rewriteEverythingTo } from '../helpers/asset-server.ts';
import { servedBuildDefinition } from '../helpers/build-definitions.ts';
import { CLI_PATH } from '../helpers/cli.ts';
import { fixturePath } from '../helpers/fixtures.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const helloWorld = fixturePath('universe/packages/H/hello-world/700');
const SHOW_CURSOR = '\u001b[?25h';
const HIDE_CURSOR = '\u001b[?25l';

/** Answers every request with a 64 MiB body of which it sends 1 MiB, then nothing. */
async function stallingServer(): Promise<{ server: Server; baseUrl: string; stalled: Promise<void> }> {
  let reached!: () => void;
  const stalled = new Promise<void>((resolve) => (reached = resolve));
  const open: ServerResponse[] = [];
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(64 * 1024 * 1024) });
    response.write(Buffer.alloc(1024 * 1024, 7), () => reached());
    open.push(response);
  });
  server.on('close', () => open.forEach((response) => response.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, stalled };
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const partialIn = async (directory: string): Promise<boolean> => existsSync(directory) && (await readdir(directory)).some((name) => name.includes('.partial-'));

/** The child's exit; a child still running 10 s after `deadline()` is started is killed and reported as such. */
function exited(child: ChildProcess): { exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; deadline: () => void } {
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    exit,
    deadline: () => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      void exit.then(() => clearTimeout(timer));
    },
  };
}

describe('an interrupted build', () => {
  let stalling: Awaited<ReturnType<typeof stallingServer>>;
  before(async () => (stalling = await stallingServer()));
  after(() => stalling.server.close());

  const buildArgs = async (): Promise<{ args: string[]; out: string }> => {
    const work = await temporaryDirectory();
    const { file } = await servedBuildDefinition(helloWorld, work);
    const out = join(work, 'out');
    return { out, args: ['registry', 'build', `--build-definition-file=${file}`, `--output-directory=${out}`, ...rewriteEverythingTo(stalling.baseUrl).flatMap((rule) => ['--url-rewrite', rule])] };
  };

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`exits ${code} on ${signal} at once, leaving no file, and says so in JSON under --json`, async () => {
      const { args, out } = await buildArgs();
      const child = spawn(process.execPath, [CLI_PATH, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const { exit, deadline } = exited(child);
      await waitFor(() => partialIn(out), 'the partial bundle');
      await stalling.stalled;
      const sentAt = Date.now();
      child.kill(signal);
      deadline();
      const { code: exitCode } = await exit;
      assert.equal(exitCode, code, stderr);
      assert.ok(Date.now() - sentAt < 5000, 'it did not wait for the stalled download');
      assert.deepEqual(await readdir(out), [], 'no partial bundle left');
      const envelope = JSON.parse(stderr.trim().split('\n').at(-1)!) as { type: string; data: { signal: string } };
      assert.equal(envelope.type, 'Interrupted');
      assert.equal(envelope.data.signal, signal);
    });
  }

  it('on a terminal: Ctrl-C typed into it exits 130, shows the cursor again, and leaves no file', async (context) => {
    if (!existsSync('/usr/bin/script')) {
      context.skip('util-linux `script` is not installed: no pseudo-terminal to type Ctrl-C into');
      return;
    }
    const { args, out } = await buildArgs();
    const command = [process.execPath, CLI_PATH, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    // -e: script exits with the command's status. Its stdin is typed into the terminal.
    // As a user's terminal: CI (set by CI runners) turns the progress bar off, so it is unset here.
    const { CI: _ci, ...environment } = process.env;
    const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...environment, TERM: 'xterm' } });
    let seen = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (seen += text));
    const { exit, deadline } = exited(child);
    await waitFor(() => partialIn(out), 'the partial bundle');
    await waitFor(async () => seen.includes(HIDE_CURSOR), 'the progress bar (which hides the cursor)');
    child.stdin!.write('\u0003');
    deadline();
    const { code } = await exit;
    assert.equal(code, 130, seen);
    assert.ok(seen.lastIndexOf(SHOW_CURSOR) > seen.lastIndexOf(HIDE_CURSOR), 'the cursor is shown again after the bar hid it');
    assert.match(seen, /Interrupted \(Ctrl-C\)/);
    assert.deepEqual(await readdir(out), [], 'no partial bundle left');
  });
});
