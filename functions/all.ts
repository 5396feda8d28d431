import type { SetupOptions } from '@azure/functions';
import { adminApi } from './adminApi';
import { connect } from './connect';
import type { FunctionDefinition } from './definition';
import { answerThrows } from './http/answerThrows';
import { health } from './health';
import { inboundWorker } from './inboundWorker';
import { outboundWorker } from './outboundWorker';
import { outboxRelay } from './outboxRelay';
import { scheduler } from './scheduler';
import { tokenRefresher } from './tokenRefresher';
import { webhookReceiver } from './webhookReceiver';

/**
 * Every function of the app, in one list: the Functions host registers it, local/ runs it. HTTP
 * handlers are wrapped in `answerThrows` here, once, so the local host answers a throw exactly as
 * Azure does (with HTTP streams on, the Functions host itself would send nothing).
 */
export const allFunctions: readonly FunctionDefinition[] = [scheduler, inboundWorker, outboundWorker, tokenRefresher, outboxRelay, webhookReceiver, adminApi, connect, health].map(
  (fn): FunctionDefinition => (fn.kind === 'http' ? { ...fn, options: { ...fn.options, handler: answerThrows(fn.options.handler) } } : fn),
);

/**
 * The app's `app.setup` options; local/ takes the same ones, so `npm start` and the tests run the
 * HTTP functions as Azure does. HTTP streams are on so that a request body reaches a handler as it
 * arrives instead of being read whole (up to FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) before it runs:
 * the webhook receiver then refuses an unknown connection or an oversized body before reading it
 * (docs/webhook-intake.md). The setting is global: every HTTP function gets streamed requests
 * (`request.text()`, `json()` and `arrayBuffer()` still read the whole body).
 */
export const appSetup: SetupOptions = { enableHttpStream: true };
