import { adminApi } from './adminApi';
import { connect } from './connect';
import type { FunctionDefinition } from './definition';
import { health } from './health';
import { inboundWorker } from './inboundWorker';
import { outboundWorker } from './outboundWorker';
import { outboxRelay } from './outboxRelay';
import { scheduler } from './scheduler';
import { tokenRefresher } from './tokenRefresher';
import { webhookReceiver } from './webhookReceiver';

/** Every function of the app, in one list: the Functions host registers it, local/ runs it. */
export const allFunctions: readonly FunctionDefinition[] = [scheduler, inboundWorker, outboundWorker, tokenRefresher, outboxRelay, webhookReceiver, adminApi, connect, health];
