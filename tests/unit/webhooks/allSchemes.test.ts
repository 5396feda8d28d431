import { verifyWebhook } from '../../../shared/webhooks';
import { changeOneByte } from './support/signers';
import { fixtures, headerValue, NOW, withoutHeader, wrongSecretFor, type SchemeFixture } from './support/fixtures';

/** Behaviour every shared-secret scheme must show, checked the same way for each. */

const body = Buffer.from('{"id":"evt_1","type":"record.updated","data":{"n":1}}');

async function verify(fixture: SchemeFixture, active: string[], parts: { headers: unknown; url: string; method: string }, rawBody: Buffer | string, now = NOW) {
  return verifyWebhook(fixture.scheme, {
    secret: fixture.options(active) as never,
    method: parts.method,
    url: parts.url,
    headers: parts.headers as Record<string, string>,
    rawBody,
    now,
  });
}

describe.each(fixtures.map((fixture) => [fixture.scheme, fixture] as const))('%s', (_scheme, fixture) => {
  const [first, second] = fixture.secrets;
  const signed = fixture.sign(first, body, NOW);

  it('accepts a request signed with the active secret', async () => {
    await expect(verify(fixture, [first], signed, body)).resolves.toEqual({ valid: true });
  });

  it('accepts a body given as a string as well as a Buffer', async () => {
    await expect(verify(fixture, [first], signed, body.toString('utf8'))).resolves.toEqual({ valid: true });
  });

  it('accepts a request signed with either of two active secrets (rotation)', async () => {
    await expect(verify(fixture, [second, first], signed, body)).resolves.toMatchObject({ valid: true });
    await expect(verify(fixture, [second, first], fixture.sign(second, body, NOW), body)).resolves.toMatchObject({ valid: true });
  });

  it('rejects a request signed with a secret that was rotated out', async () => {
    const result = await verify(fixture, [second], signed, body);
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/\.$/);
  });

  it('rejects a wrong secret', async () => {
    await expect(verify(fixture, [first], fixture.sign(wrongSecretFor(fixture), body, NOW), body)).resolves.toMatchObject({ valid: false });
  });

  it('matches header names case-insensitively', async () => {
    const upper = Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name.toUpperCase(), value]));
    await expect(verify(fixture, [first], { ...signed, headers: upper }, body)).resolves.toEqual({ valid: true });
  });

  it('accepts a fetch Headers object', async () => {
    await expect(verify(fixture, [first], { ...signed, headers: new Headers(signed.headers) }, body)).resolves.toEqual({ valid: true });
  });

  it('rejects a request whose credential header is missing, naming the header', async () => {
    const result = await verify(fixture, [first], { ...signed, headers: withoutHeader(signed.headers, fixture.credentialHeader) }, body);
    expect(result.valid).toBe(false);
    expect(result.reason).toContain(fixture.credentialHeader);
  });

  it('rejects a credential header sent twice (array value), even when both copies are valid', async () => {
    const value = headerValue(signed.headers, fixture.credentialHeader);
    const headers = { ...withoutHeader(signed.headers, fixture.credentialHeader), [fixture.credentialHeader]: [value, value] };
    const result = await verify(fixture, [first], { ...signed, headers }, body);
    expect(result).toMatchObject({ valid: false });
    expect(result.reason).toContain('more than once');
  });

  it('rejects a credential header sent twice through fetch Headers (comma-joined)', async () => {
    const headers = new Headers(signed.headers);
    headers.append(fixture.credentialHeader, headerValue(fixture.sign(second, body, NOW).headers, fixture.credentialHeader));
    await expect(verify(fixture, [first, second], { ...signed, headers }, body)).resolves.toMatchObject({ valid: false });
  });

  it('rejects a malformed credential header', async () => {
    for (const bad of ['garbage', '=', 'v0=', 'sha256=zz', ' ']) {
      const headers = { ...withoutHeader(signed.headers, fixture.credentialHeader), [fixture.credentialHeader]: bad };
      const result = await verify(fixture, [first], { ...signed, headers }, body);
      expect(result.valid).toBe(false);
      expect(result.reason).toContain(fixture.credentialHeader);
    }
  });

  it('accepts an empty body that is correctly signed', async () => {
    const empty = Buffer.alloc(0);
    await expect(verify(fixture, [first], fixture.sign(first, empty, NOW), empty)).resolves.toEqual({ valid: true });
  });

  if (fixture.coversBody) {
    it('rejects a webhook whose body changed by one byte', async () => {
      const result = await verify(fixture, [first], signed, changeOneByte(body));
      expect(result.valid).toBe(false);
      expect(result.reason).toMatch(/match|hash/);
    });

    it('rejects a signed empty body when a body arrives', async () => {
      await expect(verify(fixture, [first], fixture.sign(first, Buffer.alloc(0), NOW), body)).resolves.toMatchObject({ valid: false });
    });
  }

  if (fixture.timestamped) {
    it('accepts a timestamp just inside the 5-minute tolerance, past and future', async () => {
      await expect(verify(fixture, [first], fixture.sign(first, body, NOW - 300), body)).resolves.toEqual({ valid: true });
      await expect(verify(fixture, [first], fixture.sign(first, body, NOW + 300), body)).resolves.toEqual({ valid: true });
    });

    it('rejects a stale timestamp, even when the signature is right', async () => {
      const result = await verify(fixture, [first], fixture.sign(first, body, NOW - 301), body);
      expect(result.valid).toBe(false);
      expect(result.reason).toContain('in the past');
    });

    it('rejects a timestamp from the future', async () => {
      const result = await verify(fixture, [first], fixture.sign(first, body, NOW + 301), body);
      expect(result.valid).toBe(false);
      expect(result.reason).toContain('in the future');
    });

    it('rejects a signature replayed under a fresh timestamp', async () => {
      const old = fixture.sign(first, body, NOW - 1000);
      const fresh = fixture.sign(first, body, NOW);
      const replay = Object.fromEntries(
        Object.entries(fresh.headers).map(([name, value]) =>
          name.toLowerCase() === fixture.credentialHeader.toLowerCase() ? [name, headerValue(old.headers, name)] : [name, value],
        ),
      );
      await expect(verify(fixture, [first], { ...fresh, headers: replay }, body)).resolves.toMatchObject({ valid: false });
    });
  }
});
