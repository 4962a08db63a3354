import type { Role } from "../../auth/permissions";
import type { FieldCipher } from "../../crypto/fields";

export const JOB_ENCRYPTED_COLUMNS = ["access_details", "private_contact_name", "private_contact_email"] as const;
export type JobEncryptedColumn = (typeof JOB_ENCRYPTED_COLUMNS)[number];

export const jobFieldContext = (jobUuid: string, column: JobEncryptedColumn) => ({ table: "jobs", column, rowUuid: jobUuid });

/**
 * Decrypts a job's private fields for the caller. Contractors attend the site, so they get the
 * access details, but not the private contact.
 */
export async function decryptJobPrivateFields(
  cipher: FieldCipher,
  row: { uuid: string; accessDetails: string | null; privateContactName: string | null; privateContactEmail: string | null },
  role: Role,
) {
  const seesContact = role !== "contractor";
  const [access, name, email] = await Promise.all([
    cipher.decryptOptional(jobFieldContext(row.uuid, "access_details"), row.accessDetails),
    seesContact ? cipher.decryptOptional(jobFieldContext(row.uuid, "private_contact_name"), row.privateContactName) : null,
    seesContact ? cipher.decryptOptional(jobFieldContext(row.uuid, "private_contact_email"), row.privateContactEmail) : null,
  ]);
  return { access_details: access, private_contact_name: name, private_contact_email: email };
}
