import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { FunctionDefinition } from '../../functions/definition';
import { startLocalHost, type RunningLocalHost } from '../../local/host';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { tempDirectory, waitFor } from './helpers';

const Q = 'sync-inbound';
const fixtures = join(__dirname, 'fixtures');

/** Runs the child script in a plain node process and resolves with its first stdout line. */
function runChild(args: string[]): { child: ChildProcess; firstLine: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['-r', join(__dirname, '../support/registerTypeScript.js'), join(fixtures, 'queueChildProcess.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline !== -1) resolve(stdout.slice(0, newline));
    });
    void exited.then((code) => reject(new Error(`The child exited with ${code} before writing a line: ${stderr}`)));
  });
  return { child, firstLine, exited };
}

describe('local host: crash recovery across processes', () => {
  let dir: ReturnType<typeof tempDirectory>;
  let db: SqliteDatabase;
  let queue: SqliteQueue | undefined;
  let host: RunningLocalHost | undefined;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    dir = tempDirectory();
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await host?.stop();
    queue?.close();
    if (db?.open) db.close();
    dir.remove();
    host = undefined;
    queue = undefined;
    child = undefined;
  });

  function recordingWorker(seen: Array<{ n: number; deliveryCount: number }>): FunctionDefinition {
    return {
      kind: 'serviceBusQueue',
      name: 'inboundWorker',
      options: {
        connection: 'ServiceBusConnection',
        queueName: Q,
        isSessionsEnabled: true,
        handler: (body, context) => void seen.push({ n: (body as { n: number }).n, deliveryCount: context.triggerMetadata?.deliveryCount as number }),
      },
    };
  }

  it('redelivers, with deliveryCount + 1, the message a SIGKILLed process was holding', async () => {
    const run = runChild(['hold', dir.dbPath, Q, 'conn-1', '3']);
    child = run.child;
    expect(await run.firstLine).toBe('HOLDING conn-1:1 1');
    run.child.kill('SIGKILL');
    await run.exited;

    db = openDatabase(dir.dbPath);
    // A lock far longer than the test: only crash recovery, not lock expiry, can free the message.
    queue = new SqliteQueue(db, { lockDurationMs: 600_000 });
    const seen: Array<{ n: number; deliveryCount: number }> = [];
    const startedAt = Date.now();
    host = await startLocalHost({ functions: [recordingWorker(seen)], queue, port: 0, log: () => undefined });
    await waitFor(() => seen.length === 3, 5_000, 'the three messages');
    expect(seen).toEqual([
      { n: 1, deliveryCount: 2 },
      { n: 2, deliveryCount: 1 },
      { n: 3, deliveryCount: 1 },
    ]);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it('picks up messages another process sends while the host runs', async () => {
    db = openDatabase(dir.dbPath);
    queue = new SqliteQueue(db);
    const seen: Array<{ n: number; deliveryCount: number }> = [];
    host = await startLocalHost({ functions: [recordingWorker(seen)], queue, port: 0, queuePollIntervalMs: 100, log: () => undefined });
    const run = runChild(['send', dir.dbPath, Q, 'conn-2', '2']);
    child = run.child;
    expect(await run.firstLine).toBe('SENT');
    await waitFor(() => seen.length === 2, 5_000, 'the messages from the other process');
    expect(seen.map((d) => d.n)).toEqual([1, 2]);
  });
});
