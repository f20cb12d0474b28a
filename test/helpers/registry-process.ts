/**
 * The built registry server (`dist/server/registry.mjs`) as a child process: what an operator
 * runs. Tests can kill it (SIGKILL included) and start another on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../dist/server/registry.mjs', import.meta.url));

export interface RegistryProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startRegistryProcess(env: Record<string, string>): Promise<RegistryProcess> {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: process.env.REGISTRY_PROCESS_LOG ? 'debug' : 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    void exited.then((code) => reject(new Error(`the registry exited with ${code} before it listened: ${stderr}`)));
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; message?: string; url?: string };
        if ((entry.msg ?? entry.message) === 'registry listening' && entry.url) resolve(entry.url);
      } catch {
        // not a log line
      }
    });
  });
  // REGISTRY_PROCESS_LOG=<file> keeps every server's log lines, for debugging a failing run.
  const logFile = process.env.REGISTRY_PROCESS_LOG;
  lines.on('line', (line) => (logFile ? appendFileSync(logFile, `${line}\n`) : undefined));
  return {
    url,
    child,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
