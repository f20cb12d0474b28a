/** Every command of the built CLI, read from its own help (so a new command is found too): ['add'], ['token', 'create'], … */
import { runBuiltCli } from './cli.ts';

export async function cliCommands(prefix: string[] = []): Promise<string[][]> {
  const help = (await runBuiltCli([...prefix, '--help'])).stdout;
  const names = [...(help.split('Commands:')[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
  const found: string[][] = [];
  for (const name of names) {
    const sub = await cliCommands([...prefix, name]);
    found.push(...(sub.length > 0 ? sub : [[...prefix, name]]));
  }
  return found;
}
