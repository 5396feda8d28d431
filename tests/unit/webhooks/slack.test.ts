import { verifyWebhook } from '../../../shared/webhooks';
import { hmacHex, slackSignature } from './support/signers';

// docs.slack.dev/authentication/verifying-requests-from-slack: the worked example.
const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const SLACK_TIMESTAMP = 1531420618;
const SLACK_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const SLACK_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

const verify = (headers: Record<string, string>, rawBody: string, now: number, secret: string | object = SLACK_SECRET) =>
  verifyWebhook('slack', { secret: secret as string, method: 'POST', url: '/api/webhooks/slack/c1', headers, rawBody, now });

describe('slack', () => {
  const headers = { 'X-Slack-Request-Timestamp': String(SLACK_TIMESTAMP), 'X-Slack-Signature': SLACK_SIGNATURE };

  it("verifies Slack's published example", async () => {
    await expect(verify(headers, SLACK_BODY, SLACK_TIMESTAMP + 10)).resolves.toEqual({ valid: true });
  });

  it("rejects Slack's published example once it is older than five minutes", async () => {
    const result = await verify(headers, SLACK_BODY, SLACK_TIMESTAMP + 301);
    expect(result).toEqual({
      valid: false,
      reason: 'The X-Slack-Request-Timestamp header is 301 seconds in the past, outside the 300-second tolerance.',
    });
  });

  it('honours a configured tolerance', async () => {
    await expect(verify(headers, SLACK_BODY, SLACK_TIMESTAMP + 301, { secret: SLACK_SECRET, toleranceSeconds: 600 })).resolves.toEqual({ valid: true });
  });

  it('rejects a signature of another version (v1)', async () => {
    const v1 = { ...headers, 'X-Slack-Signature': `v1=${hmacHex('sha256', SLACK_SECRET, `v1:${SLACK_TIMESTAMP}:`, SLACK_BODY)}` };
    const result = await verify(v1, SLACK_BODY, SLACK_TIMESTAMP);
    expect(result).toEqual({ valid: false, reason: 'The X-Slack-Signature header carries a v1 signature; only v0 is accepted.' });
  });

  it('rejects a malformed timestamp header', async () => {
    for (const bad of ['1531420618.5', '-1531420618', 'now', '15314206180000000']) {
      const result = await verify({ ...headers, 'X-Slack-Request-Timestamp': bad }, SLACK_BODY, SLACK_TIMESTAMP);
      expect(result).toMatchObject({ valid: false, reason: expect.stringContaining('X-Slack-Request-Timestamp') });
    }
  });

  it('rejects a missing timestamp header, naming it', async () => {
    const result = await verify({ 'X-Slack-Signature': SLACK_SIGNATURE }, SLACK_BODY, SLACK_TIMESTAMP);
    expect(result).toEqual({ valid: false, reason: 'The X-Slack-Request-Timestamp header is missing.' });
  });

  it('answers a signed url_verification request with its challenge', async () => {
    const body = JSON.stringify({ token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' });
    const now = 1_700_000_000;
    const result = await verify({ 'X-Slack-Request-Timestamp': String(now), 'X-Slack-Signature': slackSignature('sec', now, body) }, body, now, 'sec');
    expect(result.valid).toBe(true);
    expect(result.handshake).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' }),
    });
  });

  it('does not answer an unsigned url_verification request', async () => {
    const body = JSON.stringify({ challenge: 'abc', type: 'url_verification' });
    const now = 1_700_000_000;
    const result = await verify({ 'X-Slack-Request-Timestamp': String(now), 'X-Slack-Signature': slackSignature('other', now, body) }, body, now, 'sec');
    expect(result.valid).toBe(false);
    expect(result.handshake).toBeUndefined();
  });
});
