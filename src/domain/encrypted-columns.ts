import { JOB_ENCRYPTED_COLUMNS } from "./job-fields";

/**
 * Every encrypted column, by table: what key rotation (src/crypto/rotate.ts) re-seals. Each table
 * has a `uuid` column (the key derivation context). A job's are the encrypted fields of the
 * job-field table.
 */
export const ENCRYPTED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  jobs: JOB_ENCRYPTED_COLUMNS,
  tenants: ["email", "phone"],
  case_notes: ["message", "message_text", "from_email"],
  webhook_subscriptions: ["secret"],
};
