/**
 * A byte-progress bar on stderr, drawn only on a terminal; elsewhere it stays silent and the
 * caller's log lines are the progress.
 */
import cliProgress from 'cli-progress';
import type { CliOutput } from './output.ts';

export interface ByteProgress {
  start(label: string, total: number | undefined): void;
  update(done: number, total: number | undefined): void;
  stop(): void;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const SILENT: ByteProgress = { start() {}, update() {}, stop() {} };

export function createByteProgress(output: CliOutput): ByteProgress {
  if (!output.interactive) return SILENT;
  let bar: cliProgress.SingleBar | undefined;
  let label = '';
  const texts = (done: number, total: number | undefined): Record<string, string> => ({
    doneText: formatBytes(done),
    totalText: total === undefined ? '?' : formatBytes(total),
  });
  return {
    start(nextLabel) {
      bar?.stop();
      bar = undefined;
      label = nextLabel;
    },
    update(done, total) {
      // The bar appears with the first bytes, when the total (if any) is known.
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: output.streams.stderr as NodeJS.WriteStream,
            format: total === undefined ? `${label} {doneText}` : `${label} [{bar}] {percentage}% {doneText}/{totalText}`,
            hideCursor: true,
            clearOnComplete: true,
            barsize: 30,
            fps: 10,
          },
          cliProgress.Presets.legacy,
        );
        bar.start(total ?? 0, 0, texts(0, total));
      }
      bar.update(done, texts(done, total));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
