#!/usr/bin/env node
/** The executable: runs the CLI on this process's arguments and streams. */
import { runCli } from './program.ts';
import { exitOnInterrupt } from './interrupt.ts';

exitOnInterrupt(process.stderr, process.argv.includes('--json'));

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`Unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
