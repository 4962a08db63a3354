/**
 * R2 object keys are generated, never taken from a file name, and every object of a job lives
 * under `jobs/<job uuid>/`, so deleting a job can remove its files by prefix.
 */
export const jobPrefix = (jobUuid: string) => `jobs/${jobUuid}/`;

export const objectKey = (jobUuid: string, kind: "photos" | "documents" | "notes", recordUuid: string, name: string) =>
  `${jobPrefix(jobUuid)}${kind}/${recordUuid}/${name}`;
