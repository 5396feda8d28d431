import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyCounters, type Run } from '../../shared/core/model';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteRunStore } from '../../shared/platform/local/sqliteRunStore';

function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', join(__dirname, '../support/registerTypeScript.js'), join(__dirname, 'support', 'tryStartChild.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited with ${code}: ${err}`))));
  });
}

describe('SqliteRunStore across processes', () => {
  let dir: string;
  let db: SqliteDatabase;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-runs-'));
    db = openDatabase(join(dir, 'syncbridge.db'));
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never starts more runs than the limit when four processes race over the same queued runs', async () => {
    const store = new SqliteRunStore(db);
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      const run: Run = {
        id: `run_${String(i).padStart(2, '0')}`,
        tenantId: 'ten_race',
        connectionId: `con_${i}`,
        kind: 'full',
        trigger: 'schedule',
        state: 'queued',
        entities: [{ entity: 'customers', status: 'pending', cursor: null, pages: 0, since: null, highWater: null, total: null, counters: emptyCounters(), attempts: 0, lastError: null }],
        createdAt: new Date(Date.UTC(2026, 2, 1, 9, 0, i)).toISOString(),
        updatedAt: new Date(Date.UTC(2026, 2, 1, 9, 0, i)).toISOString(),
        resumes: 0,
        version: 0,
      };
      ids.push((await store.create(run)).id);
    }
    // Each child tries every run, in its own order, from a common start time.
    const startAt = String(Date.now() + 1500);
    const orders = [ids, [...ids].reverse(), [...ids.slice(6), ...ids.slice(0, 6)], [...ids.slice(3), ...ids.slice(0, 3)]];
    const started = await Promise.all(orders.map((order) => runChild([join(dir, 'syncbridge.db'), '4', startAt, ...order])));
    expect(started.map(Number).reduce((a, b) => a + b, 0)).toBe(4);
    expect(await store.countActive('ten_race')).toBe(4);
    expect(await store.listQueued('ten_race')).toHaveLength(8);
  }, 60_000);
});
