// Child process of the ingest benchmark: ingests one stored bundle on a filesystem store, as the
// unpack function does (verify everything, then copy content-addressed), and publishes it.
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../lib/adapters/job-queue/in-process-job-queue.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../lib/registry/context.ts';
import { ingestBundle } from '../../lib/registry/ingest.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { silentLogger } from '../../lib/support/logger.ts';

const [root, key] = process.argv.slice(2) as [string, string];
const queue = new InProcessJobQueue(silentLogger);
const context: RegistryContext = {
  store: new FsObjectStore(root),
  queue,
  settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry.bench' },
  log: silentLogger,
  now: () => new Date(),
};
queue.consumeWith(async (messages) => {
  for (const message of messages) await handleJob(context, JSON.parse(message.body));
  return [];
});
// Timed here, without the process start (tsx compiles the sources first).
const started = process.hrtime.bigint();
const outcome = await ingestBundle(context, key);
if (outcome.outcome !== 'accepted') throw new Error(`ingest: ${JSON.stringify(outcome)}`);
await queue.idle();
process.stderr.write(`@@ingest ${JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9 })}\n`);
