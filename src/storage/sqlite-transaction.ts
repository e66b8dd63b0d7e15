/**
 * One write transaction on a `node:sqlite` database: BEGIN IMMEDIATE (concurrent writers wait, then
 * see our result), COMMIT when `fn` returns, ROLLBACK when it throws — all of its writes land, or none.
 */
import type { DatabaseSync } from 'node:sqlite';

export function immediateTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}
