import { isSyncBridgeError } from '../../shared/core/errors';
import { sandboxOptionsFromEnv } from '../../sandbox/env';
import { startSandbox } from '../../sandbox/server';
import { resolveSandboxOptions } from '../../sandbox/options';

describe('sandbox options', () => {
  it('fills in the documented defaults', () => {
    expect(resolveSandboxOptions()).toEqual({
      port: 7072,
      host: '127.0.0.1',
      recordsPerEntity: 2000,
      seed: 42,
      apiKey: 'sandbox-api-key',
      rateLimit: { requests: 100, windowSeconds: 1 },
      maxPageSize: 1000,
      idempotencyKeyTtlSeconds: 86_400,
    });
  });

  it.each([
    [{ port: 70000 }, 'port'],
    [{ recordsPerEntity: -1 }, 'recordsPerEntity'],
    [{ recordsPerEntity: 2.5 }, 'recordsPerEntity'],
    [{ apiKey: '' }, 'apiKey'],
    [{ rateLimit: { requests: 0, windowSeconds: 1 } }, 'rateLimit.requests'],
    [{ maxPageSize: 0 }, 'maxPageSize'],
    [{ idempotencyKeyTtlSeconds: 0 }, 'idempotencyKeyTtlSeconds'],
    [{ oauth: { clientId: '', clientSecret: 's' } }, 'oauth.clientId'],
    [{ oauth: { clientId: 'c', clientSecret: '' } }, 'oauth.clientSecret'],
    [{ oauth: { clientId: 'c', clientSecret: 's', accessTokenTtlSeconds: 0 } }, 'oauth.accessTokenTtlSeconds'],
    [{ oauth: { clientId: 'c', clientSecret: 's', redirectUris: ['/relative'] } }, 'oauth.redirectUris'],
    [{ oauth: { clientId: 'c', clientSecret: 's', scopes: ['bad scope'] } }, 'oauth.scopes'],
  ])('rejects %j with a configuration error naming the option', async (options, name) => {
    await expect(startSandbox({ port: 0, ...options })).rejects.toMatchObject({ code: 'configuration', message: expect.stringContaining(`'${name}'`) });
  });

  it('reads the environment, defaulting what is unset', () => {
    expect(sandboxOptionsFromEnv({})).toEqual({ port: 7072, recordsPerEntity: 2000, seed: 42, apiKey: undefined, host: undefined, rateLimit: { requests: 100, windowSeconds: 1 } });
    expect(sandboxOptionsFromEnv({ SANDBOX_PORT: '0', SANDBOX_RECORDS: '50', SANDBOX_SEED: '-9', SANDBOX_API_KEY: 'k', SANDBOX_RATE_LIMIT: '5' })).toMatchObject({
      port: 0,
      recordsPerEntity: 50,
      seed: -9,
      apiKey: 'k',
      rateLimit: { requests: 5, windowSeconds: 1 },
    });
  });

  it('turns OAuth on from the environment', () => {
    expect(sandboxOptionsFromEnv({}).oauth).toBeUndefined();
    expect(
      sandboxOptionsFromEnv({ SANDBOX_OAUTH_CLIENT_ID: 'demo', SANDBOX_OAUTH_CLIENT_SECRET: 'shh', SANDBOX_OAUTH_TOKEN_TTL: '60', SANDBOX_OAUTH_REDIRECT_URIS: 'http://a.test/cb, http://b.test/cb' }).oauth,
    ).toEqual({ clientId: 'demo', clientSecret: 'shh', accessTokenTtlSeconds: 60, redirectUris: ['http://a.test/cb', 'http://b.test/cb'] });
  });

  it.each([
    ['SANDBOX_OAUTH_CLIENT_SECRET', { SANDBOX_OAUTH_CLIENT_SECRET: 'alone' }],
    ['SANDBOX_OAUTH_CLIENT_SECRET', { SANDBOX_OAUTH_CLIENT_ID: 'demo' }],
    ['SANDBOX_OAUTH_TOKEN_TTL', { SANDBOX_OAUTH_CLIENT_ID: 'demo', SANDBOX_OAUTH_CLIENT_SECRET: 'shh', SANDBOX_OAUTH_TOKEN_TTL: 'soon' }],
  ])('names %s when the OAuth variables do not fit together', (name, env) => {
    expect(() => sandboxOptionsFromEnv(env)).toThrow(name);
  });

  it.each([
    ['SANDBOX_PORT', 'abc'],
    ['SANDBOX_PORT', '99999'],
    ['SANDBOX_RECORDS', '1e3'],
    ['SANDBOX_SEED', '4.2'],
    ['SANDBOX_RATE_LIMIT', '0'],
    ['SANDBOX_API_KEY', '  '],
  ])('names %s when it holds %j', (name, value) => {
    let thrown: unknown;
    try {
      sandboxOptionsFromEnv({ [name]: value });
    } catch (error) {
      thrown = error;
    }
    expect(isSyncBridgeError(thrown, 'configuration')).toBe(true);
    expect((thrown as Error).message).toContain(name);
  });

  it('reports a busy port instead of hanging', async () => {
    const first = await startSandbox({ port: 0 });
    try {
      await expect(startSandbox({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });
});
