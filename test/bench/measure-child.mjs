// Runs a module in this process and, at exit, reports its peak RSS on stderr as one JSON line.
// Usage: node measure-child.mjs <module> [args...]  (the module sees args as process.argv.slice(2))
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [, , modulePath, ...args] = process.argv;
process.argv = [process.argv[0], modulePath, ...args];
process.on('exit', () => {
  writeSync(2, `\n@@bench ${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })}\n`);
});
await import(pathToFileURL(modulePath).href);
