import { z } from "@hono/zod-openapi";

export const PHOTO_TYPES = ["before", "during", "after", "other"] as const;
export type PhotoType = (typeof PHOTO_TYPES)[number];

export const PHOTO_FILE_PATH = "/api/jobs/photos/file";
export const photoFileUrl = (uuid: string, variant: "original" | "compressed") => `${PHOTO_FILE_PATH}?uuid=${uuid}&variant=${variant}`;

export const PhotoItem = z.object({
  ID: z.number().int(),
  uuid: z.string(),
  job_id: z.number().int(),
  photo_type: z.enum(PHOTO_TYPES),
  kind: z.enum(["image", "video"]),
  filename: z.string(),
  content_type: z.string(),
  size: z.number().int(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  compressed_size: z
    .number()
    .int()
    .nullable()
    .openapi({ description: "Bytes after compression (equal to size when the original was kept)" }),
  processing_status: z.enum(["pending", "processing", "completed", "failed"]),
  processing_error: z.string().nullable(),
  url: z.string().openapi({
    description:
      "The photo to show (GET, same bearer token): the compressed, metadata-free image once compression has produced one, " +
      "else the original (before compression, when the original was already the smallest, and for videos)",
  }),
  original_url: z.string().openapi({ description: "The original upload's bytes, always (GET, same bearer token)" }),
  compressed_url: z.string().nullable().openapi({ description: "The compressed, metadata-free image; null until there is one" }),
  created_at: z.string(),
});

export const GroupedPhotos = z.object(
  Object.fromEntries(PHOTO_TYPES.map((t) => [t, z.array(PhotoItem)])) as Record<PhotoType, z.ZodArray<typeof PhotoItem>>,
);
export type GroupedPhotos = z.infer<typeof GroupedPhotos>;
