/**
 * `npm run sandbox`: runs the simulated commerce provider until SIGINT or SIGTERM.
 * Environment: SANDBOX_PORT (7072), SANDBOX_RECORDS (2000 per entity), SANDBOX_SEED (42),
 * SANDBOX_API_KEY (sandbox-api-key), SANDBOX_RATE_LIMIT (100 requests per second), SANDBOX_HOST;
 * OAuth with SANDBOX_OAUTH_CLIENT_ID, SANDBOX_OAUTH_CLIENT_SECRET, SANDBOX_OAUTH_TOKEN_TTL, SANDBOX_OAUTH_REDIRECT_URIS.
 */
import { ensureError } from '../shared/core/errors';
import { sandboxOptionsFromEnv } from './env';
import { startSandbox } from './server';

async function main(): Promise<void> {
  const options = sandboxOptionsFromEnv();
  const sandbox = await startSandbox(options);
  console.log(`SyncBridge sandbox provider listening on ${sandbox.url}`);
  console.log(`  provider API: ${sandbox.url}/v1/{customers|products|orders|inventory|payments}  (header X-Api-Key: ${sandbox.apiKey})`);
  if (options.oauth) {
    console.log(`  OAuth 2:      ${sandbox.url}/oauth/authorize, ${sandbox.url}/oauth/token  (client ${options.oauth.clientId}, tokens live ${options.oauth.accessTokenTtlSeconds} s)`);
  }
  console.log(`  webhooks:     register with POST ${sandbox.url}/_sandbox/webhooks`);
  console.log(`  control API:  ${sandbox.url}/_sandbox/info`);
  console.log(`  ${options.recordsPerEntity} records per entity, seed ${options.seed}, ${options.rateLimit?.requests} requests per second per key`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`Received ${signal}; stopping the sandbox.`);
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Sandbox did not close cleanly: ${ensureError(error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`Sandbox failed to start: ${ensureError(error).message}`);
  process.exit(1);
});
