import { isSyncBridgeError } from '../../../shared/core/errors';
import { pushRetryFromSettings, resolveBackoff } from '../../../shared/core/outbound/backoff';

function refusal(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    return error as Error;
  }
  throw new Error('expected a configuration error');
}

describe('push retry schedule: options and app settings', () => {
  it('keeps the default of an option given as undefined', () => {
    expect(resolveBackoff({ initialDelayMs: undefined, multiplier: 3 })).toEqual({ initialDelayMs: 1000, multiplier: 3, maxDelayMs: 30_000, maxAttempts: 8 });
  });

  it.each([
    [{ multiplier: 0.5 }, 'multiplier', 'at least 1'],
    [{ maxAttempts: 2.5 }, 'maxAttempts', 'whole number'],
    [{ maxAttempts: 0 }, 'maxAttempts', 'whole number'],
    [{ initialDelayMs: 5000, maxDelayMs: 1000 }, 'maxDelayMs', 'at least the first delay (5000)'],
    [{ initialDelayMs: Number.NaN }, 'initialDelayMs', 'positive number'],
    [{ initialDelayMs: -1 }, 'initialDelayMs', 'positive number'],
  ])('refuses %j, naming %s', (options, name, rule) => {
    const error = refusal(() => resolveBackoff(options));
    expect(error.message).toContain(`option ${name}`);
    expect(error.message).toContain(rule);
  });

  it('reads the four settings, an unset or blank one keeping its default', () => {
    expect(pushRetryFromSettings({})).toEqual(resolveBackoff());
    expect(
      pushRetryFromSettings({
        SYNCBRIDGE_PUSH_RETRY_INITIAL_MS: '250',
        SYNCBRIDGE_PUSH_RETRY_MULTIPLIER: ' 1.5 ',
        SYNCBRIDGE_PUSH_RETRY_MAX_DELAY_MS: '',
        SYNCBRIDGE_PUSH_RETRY_MAX_ATTEMPTS: '12',
      }),
    ).toEqual({ initialDelayMs: 250, multiplier: 1.5, maxDelayMs: 30_000, maxAttempts: 12 });
  });

  it.each([
    ['SYNCBRIDGE_PUSH_RETRY_INITIAL_MS', 'soon'],
    ['SYNCBRIDGE_PUSH_RETRY_MULTIPLIER', '0.9'],
    ['SYNCBRIDGE_PUSH_RETRY_MAX_DELAY_MS', '500'],
    ['SYNCBRIDGE_PUSH_RETRY_MAX_ATTEMPTS', '3.5'],
  ])('refuses a malformed %s=%s with the setting’s name', (setting, value) => {
    const error = refusal(() => pushRetryFromSettings({ [setting]: value }));
    expect(error.message.startsWith(`${setting} must be`)).toBe(true);
  });
});
