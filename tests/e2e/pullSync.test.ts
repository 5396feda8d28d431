import { pullSyncSuite } from './pullSync.suite';

pullSyncSuite('local');
