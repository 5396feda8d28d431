import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The compiled entry of `npm start`; `npm test` builds it first. */
export const NPM_START_ENTRY = resolve(__dirname, '../../dist/local/start.js');

export interface NpmStartProcess {
  child: ChildProcess;
  /** The host's base URL, e.g. http://127.0.0.1:40123 (without /api). */
  url: string;
  output: () => string;
}

export function assertBuilt(): void {
  if (!existsSync(NPM_START_ENTRY)) throw new Error(`${NPM_START_ENTRY} is missing: run "npm run build" first (npm test does).`);
}

/**
 * Runs `npm start`'s compiled entry as its own process and resolves once its banner is out
 * (the host URL and the webhook line, which come after the host started and the demo was set up).
 */
export function startNpmStart(env: NodeJS.ProcessEnv): Promise<NpmStartProcess> {
  const child = spawn(process.execPath, [NPM_START_ENTRY], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /SyncBridge local host: (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(output);
      if (match && output.includes('Webhooks:')) {
        clearTimeout(timer);
        resolvePromise({ child, url: match[1], output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code}:\n${output}`));
    });
  });
}

/** SIGKILL, and wait until the process is gone. */
export function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}
