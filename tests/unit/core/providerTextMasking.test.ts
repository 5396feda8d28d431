import { credentialValuesOfHeaders, MASK, maskAuthSchemes, maskProviderText } from '../../../shared/core/masking';

describe('masking the credentials a request sent out of the text its provider answered', () => {
  it('finds the credentials in the headers a request sent: secret-named headers, scheme credentials, Basic parts', () => {
    const basic = Buffer.from('client-id:client%2Bsecret').toString('base64');
    const values = credentialValuesOfHeaders({
      accept: 'application/json',
      'idempotency-key': 'idem-1',
      'x-api-key': 'key-0001',
      authorization: `Basic ${basic}`,
    });
    expect(values).toEqual(expect.arrayContaining(['key-0001', basic, 'client-id:client%2Bsecret', 'client%2Bsecret']));
    expect(values).not.toContain(`Basic ${basic}`); // the scheme's name stays readable in a quote
    expect(values).not.toContain('client-id'); // an id is not a secret...
    expect(values).not.toContain('application/json');
    expect(values).not.toContain('idem-1');
    // ...unless it is the only part: a key sent as the Basic user name with an empty password.
    expect(credentialValuesOfHeaders({ authorization: `Basic ${Buffer.from('sk_live_key42:').toString('base64')}` })).toContain('sk_live_key42');
    expect(credentialValuesOfHeaders({ Authorization: 'Bearer at-123', cookie: 'sid=s3cr3t; theme=dark' })).toEqual(['at-123', 'sid=s3cr3t; theme=dark']);
  });

  it('masks sent values as sent and as echoed (percent-, form- and JSON-encoded), keeping the rest readable', () => {
    const secret = 'p+ss/w"rd 42&x';
    const text = [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1)]
      .map((form, n) => `form ${n}: ${form}.`)
      .join(' ');
    expect(maskProviderText(`email is invalid; ${text}`, [secret], 1000)).toBe(`email is invalid; form 0: ${MASK}. form 1: ${MASK}. form 2: ${MASK}. form 3: ${MASK}.`);
  });

  it('masks before it cuts, so that a token across the cut leaves no head behind', () => {
    const token = 'tok_' + 'a1b2'.repeat(10);
    const text = `${'x'.repeat(190)}${token} and more`;
    const masked = maskProviderText(text, [token], 200);
    expect(masked).toBe(`${'x'.repeat(190)}${MASK}${' and mo'}`);
    expect(masked).not.toContain('tok_');
  });

  it('masks any long Bearer or Basic credential, known or not, but leaves prose alone', () => {
    expect(maskAuthSchemes('got "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig_nature-xyz" from you')).toBe(`got "Authorization: Bearer ${MASK}" from you`);
    expect(maskAuthSchemes('basic  dXNlcm5hbWU6cGFzc3dvcmQxMjM=')).toBe(`basic  ${MASK}`);
    expect(maskAuthSchemes('The Bearer token expired; send "Bearer <access token>".')).toBe('The Bearer token expired; send "Bearer <access token>".');
    expect(maskProviderText('{"error":"invalid_token","auth":"Bearer someoneelsestoken1234"}', [], 200)).toBe(`{"error":"invalid_token","auth":"Bearer ${MASK}"}`);
  });
});
