/**
 * `serverless package` (osls) runs offline and produces the CloudFormation template this test
 * reads: every function and route, the bucket's events and lifecycle rules, the FIFO queue and its
 * dead-letter queue, and IAM scoped to the bucket and the queue.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROUTES, routeKey } from '../../lib/http/routes.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const FUNCTIONS = ['health', 'repo', 'resource', 'registry', 'upload', 'describe', 'remove', 'admin', 'unpack', 'indexer'];

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  Conditions?: Record<string, unknown>;
}

function runPackage(outputDirectory: string, stage = 'ci'): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', stage, '--package', outputDirectory], {
      cwd: projectRoot,
      // No credentials, and nowhere to send telemetry: packaging must not need either.
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none-configured', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

const ofType = (template: Template, type: string) => Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

describe('serverless package (offline) and its CloudFormation template', () => {
  let directory: string;
  let template: Template;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sls-package-'));
    const { code, output } = await runPackage(directory);
    assert.equal(code, 0, output);
    template = JSON.parse(await readFile(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  });
  after(() => rm(directory, { recursive: true, force: true }));

  it('declares every function, on Node.js 20, each with its own bundle', async () => {
    const functions = ofType(template, 'AWS::Lambda::Function');
    assert.deepEqual(functions.map(([name]) => name.replace(/LambdaFunction$/, '').toLowerCase()).sort(), [...FUNCTIONS].sort());
    for (const [, fn] of functions) assert.equal(fn.Properties.Runtime, 'nodejs20.x');
    for (const name of FUNCTIONS) await readFile(join(directory, `${name}.zip`));
  });

  it('ships each function minified, without a source map in its zip or loaded at start, within 500 KB', async () => {
    for (const name of FUNCTIONS) {
      const zip = await readFile(join(directory, `${name}.zip`));
      assert.ok(zip.length <= 500 * 1024, `${name}.zip is ${zip.length} bytes`);
      const listing = execFileSync('unzip', ['-Z1', join(directory, `${name}.zip`)], { encoding: 'utf8' }).trim().split('\n');
      assert.deepEqual(listing, [`functions/${name}.mjs`], `${name}.zip holds its module alone`);
      const code = execFileSync('unzip', ['-p', join(directory, `${name}.zip`), `functions/${name}.mjs`], { maxBuffer: 16 * 1024 * 1024 });
      assert.ok(!code.includes('sourceMappingURL'), `${name}.mjs names no map`);
      // Minified: few lines for its size.
      assert.ok(code.length / code.toString('utf8').split('\n').length > 1000, `${name}.mjs is minified`);
    }
    for (const [, fn] of ofType(template, 'AWS::Lambda::Function')) {
      const environment = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      assert.ok(!(environment.NODE_OPTIONS ?? '').includes('--enable-source-maps'), 'source maps are not loaded by default');
    }
  });

  it('keeps no AWS client the read functions do not use: no SQS and no schema validator in health, repo, resource and registry', async () => {
    for (const name of ['health', 'repo', 'resource', 'registry']) {
      const code = execFileSync('unzip', ['-p', join(directory, `${name}.zip`), `functions/${name}.mjs`], { maxBuffer: 16 * 1024 * 1024 }).toString('utf8');
      assert.ok(!code.includes('AmazonSQS'), `${name} carries the SQS client`);
      assert.ok(!code.includes('json-schema-draft-04') && !code.includes('ajv'), `${name} carries ajv or the schemas`);
    }
    const upload = execFileSync('unzip', ['-p', join(directory, 'upload.zip'), 'functions/upload.mjs'], { maxBuffer: 16 * 1024 * 1024 }).toString('utf8');
    assert.ok(upload.includes('AmazonSQS'), 'the check would see the SQS client where it is');
  });

  it('routes exactly the HTTP API routes the embedded server routes', () => {
    const routes = ofType(template, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey as string);
    assert.deepEqual(routes.sort(), ROUTES.map(routeKey).sort());
  });

  it('invokes unpack on .dcos objects created under uploads/ and drop/', () => {
    const [, bucket] = ofType(template, 'AWS::S3::Bucket').find(([name]) => name !== 'ServerlessDeploymentBucket')!;
    const notifications = (bucket.Properties.NotificationConfiguration as { LambdaConfigurations: { Event: string; Filter: { S3Key: { Rules: { Name: string; Value: string }[] } } }[] })
      .LambdaConfigurations;
    const filters = notifications.map((configuration) => Object.fromEntries(configuration.Filter.S3Key.Rules.map((rule) => [rule.Name.toLowerCase(), rule.Value])));
    assert.deepEqual(filters.sort((a, b) => String(a.prefix).localeCompare(String(b.prefix))), [
      { prefix: 'drop/', suffix: '.dcos' },
      { prefix: 'uploads/', suffix: '.dcos' },
    ]);
    for (const configuration of notifications) assert.equal(configuration.Event, 's3:ObjectCreated:*');
  });

  it('expires abandoned uploads and incomplete multipart uploads', () => {
    const [, bucket] = ofType(template, 'AWS::S3::Bucket').find(([name]) => name !== 'ServerlessDeploymentBucket')!;
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    assert.ok(rules.some((rule) => (rule.Filter as { Prefix?: string } | undefined)?.Prefix === 'uploads/' && typeof rule.ExpirationInDays === 'number'));
    assert.ok(rules.some((rule) => (rule.AbortIncompleteMultipartUpload as { DaysAfterInitiation?: number } | undefined)?.DaysAfterInitiation === 1));
  });

  it('feeds the indexer from a FIFO queue with a FIFO dead-letter queue, reporting partial batch failures', () => {
    const queues = Object.fromEntries(ofType(template, 'AWS::SQS::Queue'));
    assert.equal(queues.RegistryQueue?.Properties.FifoQueue, true);
    assert.equal(queues.RegistryDeadLetterQueue?.Properties.FifoQueue, true);
    const redrive = queues.RegistryQueue?.Properties.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
    assert.deepEqual(redrive.deadLetterTargetArn, { 'Fn::GetAtt': ['RegistryDeadLetterQueue', 'Arn'] });
    const mappings = ofType(template, 'AWS::Lambda::EventSourceMapping');
    assert.equal(mappings.length, 1);
    const mapping = mappings[0]![1];
    assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.deepEqual(mapping.Properties.FunctionName, { 'Fn::GetAtt': ['IndexerLambdaFunction', 'Arn'] });
  });

  it('hardens the data bucket and the API: TLS only, versioned with old versions expiring, kept on stack deletion, CORS only for given origins, throttled, access-logged', () => {
    const bucket = template.Resources.S3BucketRegistrydata as { Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
    assert.deepEqual(bucket.Properties.VersioningConfiguration, { Status: 'Enabled' });
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    const secret = template.Resources.ManagementTokenSecret as unknown as { DeletionPolicy?: string };
    assert.equal(secret.DeletionPolicy, 'Retain');
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    const rule = (id: string) => rules.find((candidate) => candidate.Id === id);
    assert.deepEqual(rule('expire-noncurrent-versions')?.NoncurrentVersionExpiration, { NoncurrentDays: 7 });
    assert.deepEqual(rule('expire-dropped-bundles')?.Filter, { Prefix: 'drop/' });
    // Filters throughout: rules of one action (expiration) overlap, which the rule-level Prefix forbids.
    for (const each of rules) assert.equal(each.Prefix, undefined, String(each.Id));
    // CORS: none unless origins are given, and then ETag exposed.
    const cors = bucket.Properties.CorsConfiguration as { 'Fn::If': [string, { CorsRules: { AllowedOrigins: unknown; ExposedHeaders: string[] }[] }, unknown] };
    assert.equal(cors['Fn::If'][0], 'HasCorsOrigins');
    assert.deepEqual(cors['Fn::If'][1].CorsRules[0]!.ExposedHeaders, ['ETag']);
    assert.notDeepEqual(cors['Fn::If'][1].CorsRules[0]!.AllowedOrigins, ['*']);
    assert.deepEqual(cors['Fn::If'][2], { Ref: 'AWS::NoValue' });
    const policy = ofType(template, 'AWS::S3::BucketPolicy').find(([name]) => name === 'RegistryDataBucketPolicy')?.[1];
    assert.equal((policy as unknown as { Condition?: string }).Condition, 'TlsOnly');
    assert.deepEqual(template.Conditions?.TlsOnly, { 'Fn::Equals': ['true', 'true'] }, 'on by default');
    const statement = (policy?.Properties.PolicyDocument as { Statement: { Effect: string; Action: string; Condition: unknown; Resource: string[] }[] }).Statement[0]!;
    assert.equal(statement.Effect, 'Deny');
    assert.equal(statement.Action, 's3:*');
    assert.deepEqual(statement.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
    assert.deepEqual(statement.Resource, ['arn:aws:s3:::dcos-package-registry-ci-data', 'arn:aws:s3:::dcos-package-registry-ci-data/*']);
    const stage = template.Resources.HttpApiStage!.Properties;
    assert.deepEqual(stage.DefaultRouteSettings, { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 });
    assert.ok((stage.AccessLogSettings as { DestinationArn?: unknown })?.DestinationArn, 'access logs on');
  });

  it('lets each role write logs only to its own functions\' log groups, with no managed policy', () => {
    const logGroupOf = new Map<string, string>();
    for (const [name, group] of ofType(template, 'AWS::Logs::LogGroup')) logGroupOf.set(name.replace(/LogGroup$/, ''), String(group.Properties.LogGroupName));
    const groupsOfRole = new Map<string, string[]>();
    for (const [name, fn] of ofType(template, 'AWS::Lambda::Function')) {
      const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      groupsOfRole.set(role, [...(groupsOfRole.get(role) ?? []), logGroupOf.get(name.replace(/LambdaFunction$/, ''))!]);
    }
    for (const [name, role] of ofType(template, 'AWS::IAM::Role')) {
      assert.equal(role.Properties.ManagedPolicyArns, undefined, `${name}: no managed policy`);
      const statements = (role.Properties.Policies as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[]).flatMap((policy) => policy.PolicyDocument.Statement);
      const logStatements = statements.filter((statement) => statement.Action.some((action) => action.startsWith('logs:')));
      assert.equal(logStatements.length, 1, name);
      assert.deepEqual(logStatements[0]!.Action, ['logs:CreateLogStream', 'logs:PutLogEvents'], name);
      const named = (logStatements[0]!.Resource as { 'Fn::Join': [string, unknown[]] }[]).map((resource) => String(resource['Fn::Join'][1].at(-1)).replace(/^:log-group:/, '').replace(/:\*$/, ''));
      assert.deepEqual(named.sort(), [...(groupsOfRole.get(name) ?? [])].sort(), `${name}: the log groups of its functions, and no other`);
    }
  });

  it('alarms on a job given up, the oldest job waiting too long, failing unpack and indexer, and 5xx answers, notifying the topic given', () => {
    const alarms = Object.fromEntries(ofType(template, 'AWS::CloudWatch::Alarm').map(([name, alarm]) => [name, alarm.Properties]));
    const expect = (name: string, namespace: string, metric: string, dimension: unknown, threshold: number) => {
      const alarm = alarms[name];
      assert.ok(alarm, name);
      assert.equal(alarm.Namespace, namespace, name);
      assert.equal(alarm.MetricName, metric, name);
      assert.deepEqual((alarm.Dimensions as { Value: unknown }[])[0]!.Value, dimension, name);
      assert.equal(alarm.Threshold, threshold, name);
      assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold', name);
      assert.deepEqual(alarm.AlarmActions, { 'Fn::If': ['HasAlarmTopic', [''], { Ref: 'AWS::NoValue' }] }, name);
    };
    expect('DeadLetterAlarm', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', { 'Fn::GetAtt': ['RegistryDeadLetterQueue', 'QueueName'] }, 0);
    expect('OldestJobAlarm', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', { 'Fn::GetAtt': ['RegistryQueue', 'QueueName'] }, 1800);
    expect('UnpackErrorsAlarm', 'AWS/Lambda', 'Errors', { Ref: 'UnpackLambdaFunction' }, 0);
    expect('IndexerErrorsAlarm', 'AWS/Lambda', 'Errors', { Ref: 'IndexerLambdaFunction' }, 0);
    expect('HttpServerErrorsAlarm', 'AWS/ApiGateway', '5xx', { Ref: 'HttpApi' }, 5);
    expect('UnpackFailuresAlarm', 'AWS/SQS', 'NumberOfMessagesSent', { 'Fn::GetAtt': ['UnpackFailureQueue', 'QueueName'] }, 0);
  });

  it('keeps the S3 events unpack failed on after its retries in a queue of their own, which its role may send to', () => {
    const configs = ofType(template, 'AWS::Lambda::EventInvokeConfig');
    assert.equal(configs.length, 1);
    const config = configs[0]![1].Properties;
    assert.deepEqual(config.FunctionName, { Ref: 'UnpackLambdaFunction' });
    assert.deepEqual(config.DestinationConfig, { OnFailure: { Destination: { 'Fn::GetAtt': ['UnpackFailureQueue', 'Arn'] } } });
    assert.equal(config.MaximumRetryAttempts, 2);
    const role = template.Resources.UnpackRole!.Properties.Policies as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[];
    const send = role.flatMap((policy) => policy.PolicyDocument.Statement).find((statement) => statement.Action.includes('sqs:SendMessage'));
    assert.ok(JSON.stringify(send?.Resource).includes('UnpackFailureQueue'));
    const unpack = template.Resources.UnpackLambdaFunction!.Properties;
    assert.equal(unpack.EphemeralStorage, undefined, 'no /tmp beyond the default: ingest streams');
  });

  it('reserves no concurrency (the message group alone serialises the writer; a reservation fails on low-quota accounts)', () => {
    for (const [name, resource] of ofType(template, 'AWS::Lambda::Function')) {
      assert.equal(resource.Properties.ReservedConcurrentExecutions, undefined, name);
    }
  });

  it('schedules garbage collection and reconciliation as jobs on the FIFO queue', () => {
    const rules = ofType(template, 'AWS::Events::Rule');
    const targets = rules.map(([, rule]) => (rule.Properties.Targets as { Arn: unknown; Input: string; SqsParameters: { MessageGroupId: string } }[])[0]!);
    assert.deepEqual(targets.map((target) => (JSON.parse(target.Input) as { kind: string }).kind).sort(), ['collect-garbage', 'reconcile']);
    for (const target of targets) {
      assert.deepEqual(target.Arn, { 'Fn::GetAtt': ['RegistryQueue', 'Arn'] });
      assert.equal(target.SqsParameters.MessageGroupId, 'registry-index');
    }
  });

  it('grants no write action on "*", scopes S3 to the bucket and SQS to the queue, and embeds no secret', () => {
    const writeAction = /^(s3:(Put|Delete|Abort|Restore)|sqs:(Send|Delete|Purge|Change)|secretsmanager:(Put|Update|Delete))/;
    const roles = ofType(template, 'AWS::IAM::Role');
    assert.equal(roles.length, 7);
    for (const [name, role] of roles) {
      for (const policy of role.Properties.Policies as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[]) {
        for (const statement of policy.PolicyDocument.Statement) {
          const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
          const text = JSON.stringify(resources);
          assert.ok(!resources.includes('*'), `${name}: ${statement.Action.join(',')} on *`);
          for (const action of statement.Action) {
            if (action.startsWith('s3:')) assert.match(text, /arn:aws:s3:::dcos-package-registry-ci-data/, `${name} ${action}`);
            if (action.startsWith('sqs:')) assert.match(text, /RegistryQueue/, `${name} ${action}`);
            if (writeAction.test(action)) assert.ok(!text.includes('"*"'), `${name} ${action}`);
          }
        }
      }
    }
    const functions = ofType(template, 'AWS::Lambda::Function');
    for (const [name, fn] of functions) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      assert.equal(variables.REGISTRY_AUTH_TOKENS, '', `${name}: tokens come from the secret, never from the template`);
      assert.deepEqual(variables.REGISTRY_AUTH_SECRET_ID, { Ref: 'ManagementTokenSecret' }, name);
      assert.equal(variables.REGISTRY_TRUSTED_KEYS, '', `${name}: no trusted key unless given`);
    }
    // The secret is made empty: no token (generated or written) and no hash is in the template.
    const secret = [...ofType(template, 'AWS::SecretsManager::Secret')][0]?.[1];
    assert.equal(secret?.Properties.SecretString, '[]');
    assert.equal(secret?.Properties.GenerateSecretString, undefined, 'a generated secret would be a usable token');
    assert.doesNotMatch(JSON.stringify(template), /sha256:[0-9a-f]{64}|(read|write|admin):[A-Za-z0-9_-]{20,}/);
  });
});

describe('the other stages package offline too', () => {
  for (const [stage, endpoint] of [
    ['localstack', 'http://localhost.localstack.cloud:4566'],
    ['offline', 'http://localhost:4569'],
  ] as const) {
    it(`stage ${stage}: every function, pointed at its local endpoints`, async () => {
      const directory = await mkdtemp(join(tmpdir(), `sls-${stage}-`));
      try {
        const { code, output } = await runPackage(directory, stage);
        assert.equal(code, 0, output);
        const template = JSON.parse(await readFile(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
        const functions = ofType(template, 'AWS::Lambda::Function');
        assert.equal(functions.length, FUNCTIONS.length);
        for (const [name, fn] of functions) {
          const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
          assert.equal(variables.REGISTRY_S3_ENDPOINT, endpoint, name);
        }
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    });
  }
});
