import type pg from 'pg';
import { withTx } from '../db/pool.js';
import { SecretBox } from '../lib/secret-box.js';
import { SEALED_FIELDS } from './sealed-fields.js';

export interface RotationReport {
  /** The key every readable secret is now sealed under. */
  keyId: string;
  /** Secrets opened with a previous key and sealed again under the current one. */
  rotated: number;
  /** Secrets already under the current key (left as they are). */
  current: number;
  /** Secrets no key of this box opens (another key, or altered): left as they are, named here. */
  unreadable: Array<{ table: string; column: string; businessId: number; keyId: string | null }>;
}

/**
 * `bulkhead secrets rotate`: every stored secret (SEALED_FIELDS) sealed under a key other than
 * the box's current one is opened (with SECRETS_KEY_PREVIOUS, or the generated key) and sealed
 * again under the current key (SECRETS_KEY). One transaction per column, its rows locked, so a
 * channel change made meanwhile waits and is not overwritten; running it twice changes nothing.
 * A secret that does not open is left untouched and reported, never guessed at.
 *
 * The running processes need no restart for the values to change under them (they read the
 * database at every use), but they must be able to open both keys while the rotation runs:
 * deploy SECRETS_KEY=new + SECRETS_KEY_PREVIOUS=old first, rotate, then drop the previous key.
 */
export async function rotateSecrets(pool: pg.Pool, box: SecretBox): Promise<RotationReport> {
  const report: RotationReport = { keyId: box.currentKeyId, rotated: 0, current: 0, unreadable: [] };
  for (const field of SEALED_FIELDS) {
    await withTx(pool, async (tx) => {
      // Identifiers come from the constant SEALED_FIELDS list, never from input.
      const { rows } = await tx.query<{ business_id: number; sealed: string }>(
        `SELECT business_id, ${field.column} AS sealed FROM ${field.table} WHERE ${field.column} IS NOT NULL ORDER BY business_id FOR UPDATE`,
      );
      for (const row of rows) {
        const keyId = SecretBox.keyIdOf(row.sealed);
        if (keyId === box.currentKeyId) {
          report.current += 1;
          continue;
        }
        let plain: string;
        try {
          plain = box.open(row.sealed, field.context(row.business_id));
        } catch {
          report.unreadable.push({ table: field.table, column: field.column, businessId: row.business_id, keyId });
          continue;
        }
        await tx.query(`UPDATE ${field.table} SET ${field.column} = $2 WHERE business_id = $1`, [row.business_id, box.seal(plain, field.context(row.business_id))]);
        report.rotated += 1;
      }
    });
  }
  return report;
}
