// Serverless plugin for the offline dev loop: polls the local SQS server (fauxqs) and invokes the
// functions subscribed to the queue through serverless-offline's Lambda emulation, the way the
// AWS event source mapping does it, including ReportBatchItemFailures (failed messages stay on
// the queue and come back; the others are deleted). Active only where REGISTRY_SQS_ENDPOINT is set.
'use strict';

class LocalSqsFifo {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.running = false;
    this.loops = [];
    this.hooks = {
      'offline:start:init': () => this.start(),
      'offline:start:end': () => this.stop(),
    };
  }

  async start() {
    const service = this.serverless.service;
    const environment = service.provider.environment || {};
    const endpoint = environment.REGISTRY_SQS_ENDPOINT;
    const queueUrl = environment.REGISTRY_QUEUE_URL;
    if (!endpoint || !queueUrl) return;
    const subscribers = Object.keys(service.functions)
      .map((functionKey) => ({ functionKey, functionDefinition: service.getFunction(functionKey) }))
      .filter(({ functionDefinition }) => (functionDefinition.events || []).some((event) => event.sqs));
    if (subscribers.length === 0) return;

    const { default: Lambda } = await import('serverless-offline/lambda');
    this.lambda = new Lambda(this.serverless, { ...(service.custom || {})['serverless-offline'], ...this.options });
    this.lambda.create(subscribers);
    const { SQSClient, ReceiveMessageCommand, DeleteMessageCommand, ChangeMessageVisibilityCommand } = require('@aws-sdk/client-sqs');
    const client = new SQSClient({ region: service.provider.region || 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    this.running = true;
    for (const { functionKey, functionDefinition } of subscribers) {
      const batchSize = functionDefinition.events.find((event) => event.sqs).sqs.batchSize || 10;
      this.loops.push(this.poll(client, { ReceiveMessageCommand, DeleteMessageCommand, ChangeMessageVisibilityCommand }, queueUrl, functionKey, batchSize));
      this.serverless.cli.log(`local SQS: ${functionKey} consumes ${queueUrl}`);
    }
  }

  async poll(client, commands, queueUrl, functionKey, batchSize) {
    while (this.running) {
      try {
        const { Messages } = await client.send(
          new commands.ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(batchSize, 10), WaitTimeSeconds: 2, AttributeNames: ['All'] }),
        );
        if (!Messages || Messages.length === 0) continue;
        const event = {
          Records: Messages.map((message) => ({
            messageId: message.MessageId,
            receiptHandle: message.ReceiptHandle,
            body: message.Body,
            attributes: message.Attributes || {},
            messageAttributes: {},
            md5OfBody: message.MD5OfBody,
            eventSource: 'aws:sqs',
            eventSourceARN: `arn:aws:sqs:local:000000000000:${queueUrl.split('/').pop()}`,
            awsRegion: 'local',
          })),
        };
        const lambdaFunction = this.lambda.get(functionKey);
        lambdaFunction.setEvent(event);
        let failed;
        try {
          const result = await lambdaFunction.runHandler();
          failed = new Set(((result && result.batchItemFailures) || []).map((failure) => failure.itemIdentifier));
        } catch (error) {
          this.serverless.cli.log(`local SQS: ${functionKey} failed: ${error.message}`);
          failed = new Set(Messages.map((message) => message.MessageId));
        }
        for (const message of Messages) {
          if (failed.has(message.MessageId)) {
            await client.send(new commands.ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 5 }));
          } else {
            await client.send(new commands.DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
          }
        }
      } catch (error) {
        this.serverless.cli.log(`local SQS: polling failed: ${error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
    if (this.lambda) await this.lambda.cleanup();
  }
}

module.exports = LocalSqsFifo;
