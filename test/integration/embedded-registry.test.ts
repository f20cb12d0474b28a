import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { describeRegistryScenarios } from './registry-scenarios.ts';

describeRegistryScenarios('embedded server on the filesystem', () => startEmbeddedRegistry());
