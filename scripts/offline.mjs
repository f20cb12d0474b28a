// `npm run offline`: the AWS stack on this machine for people (the test suite uses a faster
// in-process harness). Starts the local SQS server (fauxqs) with the registry's FIFO queue and its
// dead-letter queue, then `serverless offline` (stage "offline") with s3rver and S3 events.
// HTTP API on http://localhost:3000, S3 on http://localhost:4569; management token offline-token.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { startFauxqs } from 'fauxqs';

const SQS_PORT = 9324;
const service = 'dcos-package-registry';

const sqs = await startFauxqs({ port: SQS_PORT, logger: false, host: '127.0.0.1' });
const deadLetters = sqs.createQueue(`${service}-offline-dead-letters.fifo`, { attributes: { FifoQueue: 'true' } });
const jobs = sqs.createQueue(`${service}-offline-jobs.fifo`, {
  attributes: {
    FifoQueue: 'true',
    VisibilityTimeout: '30',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetters.queueArn, maxReceiveCount: 5 }),
  },
});
process.stdout.write(`local SQS on ${sqs.address}: ${jobs.queueUrl}\n`);
await mkdir('.offline-data/s3', { recursive: true });

const offline = spawn(process.execPath, ['node_modules/osls/bin/serverless.js', 'offline', 'start', '--stage', 'offline'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    // s3rver accepts only this key; its list pagination needs the legacy OpenSSL provider.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim(),
    SLS_TELEMETRY_DISABLED: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  },
});
const stop = () => offline.kill('SIGINT');
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
offline.on('exit', async (code) => {
  await sqs.stop();
  process.exit(code ?? 0);
});
