/** Runs one command's action: builds its output, turns any error into stderr text and exit code 1. */
import { CliOutput, type CliStreams } from './output.ts';

export type CommandAction = (output: CliOutput) => Promise<void>;

export interface CommandRunner {
  (json: boolean, action: CommandAction): Promise<void>;
}

export function createCommandRunner(streams: CliStreams, setExitCode: (code: number) => void): CommandRunner {
  return async (json, action) => {
    const output = new CliOutput(streams, json);
    try {
      await action(output);
    } catch (error) {
      output.error(error);
      setExitCode(1);
    }
  };
}
