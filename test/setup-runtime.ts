import { DefaultLogger, Runtime } from '@temporalio/worker';

// The SDK logs every worker state change at INFO; tests want warnings and errors only.
// Each test file has its own module registry, hence its own Runtime.
Runtime.install({ logger: new DefaultLogger('WARN') });
