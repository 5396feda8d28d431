import { randomBytes } from 'node:crypto';
import { SyncBridgeError } from '../../shared/core/errors';
import type { ManualClock } from '../../shared/core/manualClock';
import type { Telemetry } from '../../shared/ports/telemetry';

export interface TelemetryFixture {
  telemetry: Telemetry;
  /**
   * The bounds on registered secret values the telemetry was built with (secretValueRetentionMs,
   * maxSecretValues) and the clock that times the retention. An implementation shared across
   * tests keeps earlier tests' values; the tests below only rely on values they register.
   */
  secretValueBounds: { retentionMs: number; maxValues: number; clock: ManualClock };
  /** Everything the implementation sent out of the process so far, as text (after flush()). */
  readEmitted(): Promise<string>;
  cleanup(): Promise<void>;
}

/**
 * The Telemetry port's semantics (shared/ports/telemetry.ts), run against every implementation:
 * secrets never leave the process, and telemetry never throws into its caller. Each test first
 * shows that the thing it masks is emitted at all, so that "nothing was written" cannot pass for
 * "the secret was masked".
 */
export function telemetryConformance(name: string, factory: () => Promise<TelemetryFixture>): void {
  describe(`Telemetry conformance: ${name}`, () => {
    let fixture: TelemetryFixture;
    let telemetry: Telemetry;

    beforeEach(async () => {
      fixture = await factory();
      telemetry = fixture.telemetry;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    async function emitted(): Promise<string> {
      await telemetry.flush();
      return fixture.readEmitted();
    }

    it('replaces the values of secret-named properties with *** and keeps the others', async () => {
      const secrets: Record<string, string> = {
        password: 'pw-0001-hunter2',
        clientSecret: 'cs-0002-very-secret',
        access_token: 'at-0003-bearer',
        refreshToken: 'rt-0004-refresh',
        apiKey: 'ak-0005-key',
        api_key: 'ak-0006-key',
        'X-Api-Key': 'ak-0007-header',
        Authorization: 'Bearer az-0008-header',
        credentials: 'cr-0009-basic',
        Cookie: 'session=ck-0010',
        webhookSignature: 'sig-0011-hmac',
        PASSWORD: 'pw-0012-shouting',
      };
      telemetry.log('info', 'provider call', { ...secrets, connectionId: 'con-visible-42', attempt: 3 });
      telemetry.event('TokenRefreshed', { refresh_token: 'rt-0013-event', provider: 'sandbox-visible' });
      telemetry.metric('records.synced', 12, { apiKey: 'ak-0014-metric', entity: 'customers-visible' });
      telemetry.exception(new Error('refresh failed'), { token: 'tk-0015-exception' });
      telemetry.dependency({ type: 'HTTP', target: 'crm.example', name: 'POST /oauth/token', durationMs: 12, success: true, properties: { client_secret: 'cs-0016-dependency' } });
      const text = await emitted();
      for (const visible of ['con-visible-42', 'sandbox-visible', 'customers-visible', 'TokenRefreshed', 'records.synced', 'refresh failed', 'POST /oauth/token']) {
        expect(text).toContain(visible);
      }
      for (const value of [...Object.values(secrets), 'rt-0013-event', 'ak-0014-metric', 'tk-0015-exception', 'cs-0016-dependency', 'hunter2', 'az-0008']) {
        expect(text).not.toContain(value);
      }
      expect(text).toContain('***');
    });

    it('masks a registered secret value wherever it appears: messages, names, properties, errors, targets', async () => {
      const secret = 'sk_live_7f3a9c1e5b2d';
      telemetry.registerSecretValue(secret);
      telemetry.log('warn', `calling https://crm.example/v1?key=${secret} failed`, { url: `https://crm.example/v1?key=${secret}`, note: 'visible-note' });
      telemetry.event(`event-${secret}`, { detail: `x${secret}y` });
      telemetry.metric('latency', 5, { label: secret });
      telemetry.exception(new SyncBridgeError('auth_failed', `The provider rejected key ${secret}.`), { phase: 'refresh' });
      telemetry.exception(`a thrown string with ${secret}`);
      telemetry.dependency({ type: 'HTTP', target: `${secret}.crm.example`, name: `GET /v1/${secret}`, durationMs: 3, success: false, resultCode: 401 });
      const text = await emitted();
      expect(text).toContain('visible-note');
      expect(text).toContain('The provider rejected key');
      expect(text).toContain('calling https://crm.example/v1?key=');
      expect(text).not.toContain(secret);
      expect(text).not.toContain('7f3a9c1e5b2d');
    });

    it('maskSecretValues answers a text with the registered values masked and the rest as it was, for as long as a line would be masked', async () => {
      const { retentionMs, clock } = fixture.secretValueBounds;
      const secret = `sk_live_${randomBytes(8).toString('hex')}`;
      const text = `The provider rejected key ${secret} (HTTP 401); apiKey=visible`;
      expect(telemetry.maskSecretValues(text)).toBe(text);
      telemetry.registerSecretValue(secret);
      expect(telemetry.maskSecretValues(text)).toBe('The provider rejected key *** (HTTP 401); apiKey=visible');
      expect(telemetry.maskSecretValues('')).toBe('');
      clock.advance(retentionMs);
      expect(telemetry.maskSecretValues(text)).toBe(text);
    });

    it('masks a secret that contains another registered secret as a whole', async () => {
      telemetry.registerSecretValue('abc123');
      telemetry.registerSecretValue('abc123-extended-tail');
      telemetry.log('info', 'value is abc123-extended-tail here');
      const text = await emitted();
      expect(text).toContain('value is');
      expect(text).not.toContain('abc123');
      expect(text).not.toContain('extended-tail');
    });

    it('masks every one of many registered values, and overlapping ones leave no piece of either', async () => {
      const { maxValues } = fixture.secretValueBounds;
      // Shared heads, as JWTs and vendor prefixes have; random tails.
      const unique = (label: string) => `eyJhbGciOiJSUzI1NiJ9.${label}.${randomBytes(9).toString('base64url')}`;
      const lines: string[] = [];
      const values: string[] = [];
      for (let i = 0; values.length + 4 <= maxValues; i += 1) {
        const core = unique(`core${i}`);
        const [head, tail] = [`headpart${i}-${core}`, `${core}-tailpart${i}`]; // head's tail is tail's head
        const inner = unique(`inner${i}`);
        const outer = `wrapstart${i}-${inner}-wrapend${i}`; // a secret containing another
        values.push(head, tail, inner, outer);
        lines.push(`line ${i}: [${head}] [${tail}] [headpart${i}-${core}-tailpart${i}] [${outer}] [${inner}] end ${i}`);
      }
      for (const value of values) telemetry.registerSecretValue(value);
      for (let from = 0; from < lines.length; from += 10) telemetry.log('info', lines.slice(from, from + 10).join('\n'));
      const text = await emitted();
      expect(text).toContain('line 0: [***] [***] [***] [***] [***] end 0');
      expect(text).toContain(`end ${lines.length - 1}`);
      expect(text).not.toContain('eyJhbGciOiJSUzI1NiJ9');
      expect(text).not.toMatch(/headpart\d|tailpart\d|wrapstart\d|wrapend\d/);
    });

    it('forgets a value once it has not been registered for the retention, and keeps one registered again', async () => {
      const { retentionMs, clock } = fixture.secretValueBounds;
      const [stale, renewed] = [`stale-${randomBytes(8).toString('hex')}`, `renewed-${randomBytes(8).toString('hex')}`];
      telemetry.registerSecretValue(stale);
      telemetry.registerSecretValue(renewed);
      clock.advance(retentionMs - 1);
      telemetry.log('info', `before: ${stale} ${renewed}`);
      telemetry.registerSecretValue(renewed);
      clock.advance(2);
      telemetry.log('info', `after: ${stale} ${renewed}`);
      const text = await emitted();
      expect(text).toContain('before: *** ***');
      expect(text).toContain(`after: ${stale} ***`);
      expect(text).not.toContain(renewed);
    });

    it('keeps at most maxSecretValues values, forgetting the least recently registered first', async () => {
      const { maxValues } = fixture.secretValueBounds;
      const values = Array.from({ length: maxValues }, (_, i) => `value${i}-${randomBytes(8).toString('hex')}`);
      for (const value of values) telemetry.registerSecretValue(value);
      telemetry.registerSecretValue(values[0]); // now the most recent
      const extra = `extra-${randomBytes(8).toString('hex')}`;
      telemetry.registerSecretValue(extra);
      telemetry.log('info', `bounded: ${values[0]} ${values[1]} ${values[2]} ${values[maxValues - 1]} ${extra}`);
      const text = await emitted();
      expect(text).toContain(`bounded: *** ${values[1]} *** *** ***`);
    });

    it('does not mask anything for an empty registered value', async () => {
      telemetry.registerSecretValue('');
      telemetry.log('info', 'an ordinary message stays readable');
      expect(await emitted()).toContain('an ordinary message stays readable');
    });

    it('never throws into the caller, whatever it is given', async () => {
      const circular: Record<string, unknown> = { name: 'loop' };
      circular.self = circular;
      const weird = new Error('with a circular cause', { cause: circular });
      expect(() => {
        telemetry.exception(weird);
        telemetry.exception(undefined);
        telemetry.exception(null);
        telemetry.exception(circular);
        telemetry.exception(Object.create(null));
        telemetry.metric('nan', Number.NaN);
        telemetry.metric('infinite', Number.POSITIVE_INFINITY, { unit: undefined });
        telemetry.log('info', 'props with gaps', { a: undefined, b: null, c: true });
        telemetry.event('measured', undefined, { count: 1 });
        telemetry.log('nonsense' as never, 'unknown level');
      }).not.toThrow();
      await expect(telemetry.flush()).resolves.toBeUndefined();
      expect(await fixture.readEmitted()).toContain('props with gaps');
    });
  });
}
