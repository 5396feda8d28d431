import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';

const repoRoot = join(__dirname, '..', '..');

/** Transpiles sandbox/ and the shared files it imports, so the real entry point runs as `npm run sandbox` would. */
function transpileSandbox(outDir: string): string {
  const sources = [
    ...readdirSync(join(repoRoot, 'sandbox'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join('sandbox', f)),
    join('shared', 'core', 'errors.ts'),
    join('shared', 'ports', 'clock.ts'),
  ];
  for (const source of sources) {
    const output = ts.transpileModule(readFileSync(join(repoRoot, source), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const target = join(outDir, source.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
  return join(outDir, 'sandbox', 'main.js');
}

function run(mainJs: string, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [mainJs], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out waiting for the sandbox process.');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('sandbox/main.ts (npm run sandbox)', () => {
  let outDir: string;
  let mainJs: string;
  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'syncbridge-sandbox-main-'));
    mainJs = transpileSandbox(outDir);
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('starts from the environment, prints URL and key, serves, and exits 0 on SIGTERM', async () => {
    const proc = run(mainJs, { SANDBOX_PORT: '0', SANDBOX_RECORDS: '30', SANDBOX_API_KEY: 'main-test-key', SANDBOX_RATE_LIMIT: '7', SANDBOX_OAUTH_CLIENT_ID: 'main-client', SANDBOX_OAUTH_CLIENT_SECRET: 'main-secret' });
    try {
      // The banner is several console.log calls that may arrive in separate chunks: wait for its last line.
      await waitFor(() => (proc.output().includes('control API:') ? true : undefined), 10_000);
      const url = /listening on (http:\/\/\S+)/.exec(proc.output())![1];
      expect(proc.output()).toContain('main-test-key');
      const response = await fetch(`${url}/v1/customers`, { headers: { 'X-Api-Key': 'main-test-key' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-limit')).toBe('7');
      expect(((await response.json()) as { total: number }).total).toBe(30);
      expect(proc.output()).toContain('/oauth/token');
      const token = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=main-client&client_secret=main-secret',
      });
      expect(token.status).toBe(200);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      expect(proc.output()).toContain('SIGTERM');
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  });

  it('refuses a bad variable with a message naming it and exit code 1', async () => {
    const proc = run(mainJs, { SANDBOX_RECORDS: 'lots' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('SANDBOX_RECORDS');
  });
});
