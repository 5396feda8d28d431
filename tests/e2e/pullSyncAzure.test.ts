import { pullSyncSuite } from './pullSync.suite';

// The same suite as pullSync.test.ts, on the Azure implementations of the ports (loopback endpoints).
pullSyncSuite('azure');
