/**
 * R2 object keys are generated, never taken from a file name, and every object of a job lives
 * under `jobs/<job uuid>/`, so deleting a job can remove its files by prefix.
 */
export const jobPrefix = (jobUuid: string) => `jobs/${jobUuid}/`;

export const objectKey = (jobUuid: string, kind: "photos" | "documents" | "notes" | "uploads", recordUuid: string, name: string) =>
  `${jobPrefix(jobUuid)}${kind}/${recordUuid}/${name}`;

/** A compressed photo's key (fixed: a repeat attempt overwrites it). */
export const compressedKey = (jobUuid: string, photoUuid: string) => objectKey(jobUuid, "photos", photoUuid, "compressed");

/** Fixed keys under the photo's prefix: a repeat attempt overwrites, deleting the photo removes them. */
export const videoOutputKeys = (jobUuid: string, photoUuid: string) => ({
  "1080p": objectKey(jobUuid, "photos", photoUuid, "1080p.mp4"),
  "720p": objectKey(jobUuid, "photos", photoUuid, "720p.mp4"),
  thumbnail: objectKey(jobUuid, "photos", photoUuid, "thumbnail.jpg"),
});

/** What processing writes beside a photo's or video's original. */
export const mediaOutputKeys = (kind: "image" | "video", jobUuid: string, photoUuid: string): string[] =>
  kind === "image" ? [compressedKey(jobUuid, photoUuid)] : Object.values(videoOutputKeys(jobUuid, photoUuid));
