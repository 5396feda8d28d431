import { verifyWebhook } from '../../../shared/webhooks';
import { twilioSignature } from './support/signers';

// twilio-php tests/Twilio/Unit/Security/RequestValidatorTest.php and twilio-csharp
// test/Twilio.Test/Security/RequestValidatorTest.cs: auth token 12345, this URL and these parameters.
const AUTH_TOKEN = '12345';
const URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const FORM = new URLSearchParams(PARAMS).toString();
const JSON_BODY = '{"property": "value", "boolean": true}';
const BODY_HASH = '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620';

const verify = (signature: string, url: string, rawBody: string = FORM, method = 'POST', secret: string | string[] = AUTH_TOKEN) =>
  verifyWebhook('twilio', { secret, method, url, headers: { 'X-Twilio-Signature': signature }, rawBody });

describe('twilio', () => {
  it('verifies the published form-parameter vector', async () => {
    await expect(verify('RSOYDt4T1cUTdK1PDd93/VVr8B8=', URL)).resolves.toEqual({ valid: true });
  });

  it('signs parameters sorted by name, whatever order the body has', async () => {
    const shuffled = 'To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309';
    await expect(verify('RSOYDt4T1cUTdK1PDd93/VVr8B8=', URL, shuffled)).resolves.toEqual({ valid: true });
  });

  it('verifies the repeated-parameter vector (twilio-php testValidateWithArrayAndDuplicates)', async () => {
    const body = 'Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234';
    await expect(verify('IK+Dwps556ElfBT0I3Rgjkr1wJU=', URL, body)).resolves.toEqual({ valid: true });
  });

  it('rejects a changed parameter value', async () => {
    await expect(verify('RSOYDt4T1cUTdK1PDd93/VVr8B8=', URL, FORM.replace('1234', '9999'))).resolves.toMatchObject({ valid: false });
  });

  it('verifies a JSON body through bodySHA256 (published vectors)', async () => {
    await expect(verify('a9nBmqA0ju/hNViExpshrM61xv4=', `${URL}&bodySHA256=${BODY_HASH}`, JSON_BODY)).resolves.toEqual({ valid: true });
    await expect(verify('y77kIzt2vzLz71DgmJGsen2scGs=', `https://mycompany.com/myapp.php?bodySHA256=${BODY_HASH}`, JSON_BODY)).resolves.toEqual({ valid: true });
  });

  it('rejects a JSON body that does not hash to bodySHA256, even with a valid URL signature', async () => {
    const result = await verify('a9nBmqA0ju/hNViExpshrM61xv4=', `${URL}&bodySHA256=${BODY_HASH}`, JSON_BODY.replace('true', 'false'));
    expect(result).toEqual({ valid: false, reason: 'The body does not hash to the bodySHA256 query parameter.' });
  });

  it('rejects a JSON body sent with the form signature (twilio-csharp TestValidateWithBodyWithoutSignature)', async () => {
    await expect(verify('RSOYDt4T1cUTdK1PDd93/VVr8B8=', URL, JSON_BODY)).resolves.toMatchObject({ valid: false });
  });

  it('tolerates Twilio adding or dropping the port (published port vectors)', async () => {
    await expect(verify('RSOYDt4T1cUTdK1PDd93/VVr8B8=', 'https://mycompany.com:1234/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('Zmvh+3yNM1Phv2jhDCwEM3q5ebU=', 'http://mycompany.com:1234/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('kvajT1Ptam85bY51eRf/AJRuM3w=', URL)).resolves.toEqual({ valid: true });
    await expect(verify('0ZXoZLH/DfblKGATFgpif+LLRf4=', 'http://mycompany.com/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('CYn1h0gLBdNxDGkKJg6hYohgeD8=', 'https://mycompany.com:1234/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
  });

  it('verifies mixed-case hosts and credentials exactly as Twilio signed them (twilio-csharp vectors)', async () => {
    await expect(verify('g9IN/x4Cft2g517EjYvEvM/W7LU=', 'https://MyCompany.com/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('PCqOZm8cnu/L6+u5i5fuEd+Iac4=', 'https://MyCompany.com:1234/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('XY7AlKOKL6im4yWyX84gldUrtis=', 'http://MyCompany.com/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('PJ08CxXr7KLPjEQCTc8LkUSMwSM=', 'http://username:password@MyCompany.com/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
    await expect(verify('CukzLTc1tT5dXEDIHm/tKBanW10=', 'https://user:pass@mycompany.com/myapp.php?foo=1&bar=2')).resolves.toEqual({ valid: true });
  });

  it('rejects a signature for another URL (twilio-node: "signature URL does not match the target URL")', async () => {
    const signature = twilioSignature(AUTH_TOKEN, 'https://example.com/path?test=param', {});
    await expect(verify(signature, 'https://example.com/path?test=param2', '', 'GET')).resolves.toMatchObject({ valid: false });
    await expect(verify(signature, 'https://example.com/path?test=param', '', 'GET')).resolves.toEqual({ valid: true });
  });

  it("accepts either escaping of a quote in the query (twilio-node's single-quote tests)", async () => {
    const signature = twilioSignature(AUTH_TOKEN, "https://example.com/path?test=param'WithQuote", {});
    await expect(verify(signature, "https://example.com/path?test=param'WithQuote", '', 'GET')).resolves.toEqual({ valid: true });
    const escaped = twilioSignature(AUTH_TOKEN, 'https://example.com/path?test=param%27WithQuote', {});
    await expect(verify(escaped, 'https://example.com/path?test=param%27WithQuote', '', 'GET')).resolves.toEqual({ valid: true });
  });

  it('rejects a relative URL: Twilio signs the absolute public URL', async () => {
    const result = await verify('RSOYDt4T1cUTdK1PDd93/VVr8B8=', '/myapp.php?foo=1&bar=2');
    expect(result).toEqual({ valid: false, reason: 'The X-Twilio-Signature header cannot be checked: the request URL is not absolute.' });
  });

  it('rejects a repeated or malformed bodySHA256 parameter', async () => {
    await expect(verify('a9nBmqA0ju/hNViExpshrM61xv4=', `${URL}&bodySHA256=${BODY_HASH}&bodySHA256=${BODY_HASH}`, JSON_BODY)).resolves.toMatchObject({ valid: false });
    await expect(verify('a9nBmqA0ju/hNViExpshrM61xv4=', `${URL}&bodySHA256=xyz`, JSON_BODY)).resolves.toMatchObject({ valid: false });
  });
});
