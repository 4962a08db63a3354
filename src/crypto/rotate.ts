import { FieldCipher } from "./fields";

/** Encrypted columns by table (the caller's list: src/domain/encrypted-columns.ts); each table has a `uuid` column. */
export type EncryptedColumns = Readonly<Record<string, readonly string[]>>;

export interface RotationResult {
  rotated: number;
  /** True when no value under an old key is left. */
  complete: boolean;
}

/**
 * Re-encrypts values sealed under an older key with the active key, at most `limit` values per
 * call (a Worker request or script run stays bounded; call again until `complete`). Each update
 * is guarded on the old ciphertext, so a value written meanwhile is never overwritten.
 */
export async function rotateEncryptedFields(
  db: D1Database,
  cipher: FieldCipher,
  columns: EncryptedColumns,
  limit = 500,
): Promise<RotationResult> {
  const activePrefix = `v1.${cipher.activeKeyId}.`;
  let rotated = 0;
  for (const [table, names] of Object.entries(columns)) {
    for (const column of names) {
      while (rotated < limit) {
        const { results } = await db
          .prepare(`SELECT id, uuid, ${column} AS value FROM ${table} WHERE ${column} IS NOT NULL AND substr(${column}, 1, ?) <> ? LIMIT ?`)
          .bind(activePrefix.length, activePrefix, Math.min(100, limit - rotated))
          .all<{ id: number; uuid: string; value: string }>();
        if (results.length === 0) break;
        const updates = await Promise.all(
          results.map(async (row) => {
            const ctx = { table, column, rowUuid: row.uuid };
            const fresh = await cipher.encrypt(ctx, await cipher.decrypt(ctx, row.value));
            return db.prepare(`UPDATE ${table} SET ${column} = ? WHERE id = ? AND ${column} = ?`).bind(fresh, row.id, row.value);
          }),
        );
        await db.batch(updates);
        rotated += results.length;
      }
    }
  }
  return { rotated, complete: rotated < limit || (await remainingUnderOldKeys(db, cipher, columns)) === 0 };
}

async function remainingUnderOldKeys(db: D1Database, cipher: FieldCipher, columns: EncryptedColumns): Promise<number> {
  const activePrefix = `v1.${cipher.activeKeyId}.`;
  let total = 0;
  for (const [table, names] of Object.entries(columns)) {
    for (const column of names) {
      const row = await db
        .prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} IS NOT NULL AND substr(${column}, 1, ?) <> ?`)
        .bind(activePrefix.length, activePrefix)
        .first<{ n: number }>();
      total += row?.n ?? 0;
    }
  }
  return total;
}

export { FieldCipher };
