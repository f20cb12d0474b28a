import { startAwsStack } from '../helpers/local-aws/aws-stack.ts';
import { describeRegistryScenarios } from './registry-scenarios.ts';

describeRegistryScenarios('Lambda handlers on S3 events and SQS FIFO (local servers)', () => startAwsStack());
