/**
 * Ctrl-C and SIGTERM for every command: the shell's convention, exit 128 + the signal's number
 * (130, 143), at once, with the terminal as it was (the cursor a progress bar hid is shown again)
 * and no file of the command left behind (support/interrupt-cleanup.ts). Waiting for the work
 * to notice an abort would wait for the download or pull in flight, which is what made an
 * impatient second Ctrl-C kill the process and leave its partial bundle.
 */
import { removeInterruptedFiles } from '../support/interrupt-cleanup.ts';

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
const SHOW_CURSOR = '\u001b[?25h';

export function exitOnInterrupt(stderr: NodeJS.WriteStream, json: boolean): () => void {
  const onSignal = (signal: keyof typeof EXIT_CODES): void => {
    removeInterruptedFiles();
    const message = signal === 'SIGINT' ? 'Interrupted (Ctrl-C): nothing was left behind' : 'Terminated (SIGTERM): nothing was left behind';
    // On a terminal, a progress line may be half drawn and the cursor hidden.
    const prefix = stderr.isTTY ? `${SHOW_CURSOR}\n` : '';
    const text = json ? `${JSON.stringify({ type: 'Interrupted', message, data: { signal } })}\n` : `${message}\n`;
    try {
      stderr.write(prefix + text);
    } finally {
      process.exit(EXIT_CODES[signal]);
    }
  };
  const onInterrupt = (): void => onSignal('SIGINT');
  const onTerminate = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  return () => {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onTerminate);
  };
}
