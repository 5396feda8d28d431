import { createHash, randomBytes } from 'node:crypto';
import type { RunningSandbox } from '../../sandbox/server';

export const CLIENT_ID = 'syncbridge-test';
export const CLIENT_SECRET = 'test-secret-0123456789';
export const REDIRECT_URI = 'http://127.0.0.1:7071/api/connect/callback';

export function newPkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function basicAuth(clientId = CLIENT_ID, secret = CLIENT_SECRET): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** GET /oauth/authorize without following the redirect. */
export function authorize(sandbox: RunningSandbox, params: Record<string, string>): Promise<Response> {
  return fetch(`${sandbox.url}/oauth/authorize?${new URLSearchParams(params)}`, { redirect: 'manual' });
}

export function authorizeParams(challenge: string, overrides: Record<string, string> = {}): Record<string, string> {
  return { response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: 'st-123', code_challenge: challenge, code_challenge_method: 'S256', ...overrides };
}

/** Runs the authorize step and returns the code from the redirect. */
export async function obtainCode(sandbox: RunningSandbox, challenge: string, scope?: string): Promise<string> {
  const response = await authorize(sandbox, authorizeParams(challenge, scope ? { scope } : {}));
  if (response.status !== 302) throw new Error(`authorize answered ${response.status}: ${await response.text()}`);
  const code = new URL(response.headers.get('location')!).searchParams.get('code');
  if (!code) throw new Error(`authorize redirected without a code: ${response.headers.get('location')}`);
  return code;
}

export interface TokenAnswer {
  status: number;
  headers: Headers;
  body: { access_token?: string; refresh_token?: string; token_type?: string; expires_in?: number; scope?: string; error?: string; error_description?: string };
}

/** POST /oauth/token with a form body; client auth by HTTP Basic unless `auth` is null (then put it in the form yourself). */
export async function tokenRequest(sandbox: RunningSandbox, form: Record<string, string>, auth: string | null = basicAuth()): Promise<TokenAnswer> {
  const response = await fetch(`${sandbox.url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(auth ? { Authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as TokenAnswer['body'] };
}

/** Authorization code with PKCE, end to end: the tokens. */
export async function authorizeAndExchange(sandbox: RunningSandbox, scope?: string): Promise<TokenAnswer['body']> {
  const { verifier, challenge } = newPkce();
  const code = await obtainCode(sandbox, challenge, scope);
  const answer = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  if (answer.status !== 200) throw new Error(`token exchange answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export function bearerGet(sandbox: RunningSandbox, path: string, accessToken: string): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, { headers: { Authorization: `Bearer ${accessToken}` } });
}
