import { openDatabase } from '../../../shared/platform/local/database';
import { SqliteRunStore } from '../../../shared/platform/local/sqliteRunStore';

/**
 * A separate process that opens the shared database file and tries to start every given run,
 * after waiting for a common start time so that all children race. Prints how many it started.
 * argv: <dbPath> <maxActive> <startAtEpochMs> <runId>...
 */
async function main(): Promise<void> {
  const [dbPath, maxActive, startAt, ...runIds] = process.argv.slice(2);
  const db = openDatabase(dbPath);
  const runs = new SqliteRunStore(db);
  const wait = Number(startAt) - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  let started = 0;
  for (const runId of runIds) {
    if (await runs.tryStart(runId, Number(maxActive), new Date().toISOString())) started += 1;
  }
  db.close();
  process.stdout.write(`${started}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
