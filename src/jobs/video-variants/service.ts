/** The video variants' use cases: a video's sources, and the bytes of one variant or its thumbnail. */

import { useCase } from "../../app/use-case";
import { photos } from "../../db/schema";
import { ApiError, notFound } from "../../domain/errors";
import type { RangeRequest } from "../../media/range";
import { visibleFile, visibleRow } from "../../media/serve";
import { type StoredVariants, VARIANT_NAMES, type VariantName } from "../../media/video-job";
import { photoFileUrl } from "../photos/schemas";
import { VIEW_PHOTOS } from "../photos/service";

export const VARIANT_FILE_PATH = "/api/jobs/video-variants/file";
export const FILE_KINDS = [...VARIANT_NAMES, "thumbnail"] as const;
type FileKind = (typeof FILE_KINDS)[number];
const fileUrl = (uuid: string, kind: FileKind) => `${VARIANT_FILE_PATH}?uuid=${uuid}&variant=${kind}`;

export interface VariantSource {
  url: string;
  width: number;
  height: number;
  bitrate: number;
  size: number;
}

/** Reads the stored variants JSON, keeping only well-formed rungs (never trusts it blindly). */
function storedVariants(json: string | null): StoredVariants {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  const out: StoredVariants = {};
  if (typeof parsed !== "object" || parsed === null) return out;
  for (const name of VARIANT_NAMES) {
    const v: unknown = (parsed as Record<string, unknown>)[name];
    if (typeof v !== "object" || v === null) continue;
    const { key, width, height, bitrate, size } = v as Record<string, unknown>;
    if (
      typeof key === "string" &&
      typeof width === "number" &&
      typeof height === "number" &&
      typeof bitrate === "number" &&
      typeof size === "number"
    ) {
      out[name] = { key, width, height, bitrate, size };
    }
  }
  return out;
}

/** The original and, once transcoded, the variants and thumbnail of a photo or video the caller may see. */
export const listVideoVariants = useCase(VIEW_PHOTOS, async (scope, input: { uuid: string }) => {
  const photo = await visibleRow(scope, photos, input.uuid);
  if (!photo) throw notFound("Video");
  const processed = photo.processingStatus === "completed";
  // An image has no resolution rungs: the original is its only source, as for a video not transcoded.
  const video = processed && photo.kind === "video";
  const stored = video ? storedVariants(photo.variants) : {};
  const variants: Partial<Record<VariantName, VariantSource>> = {};
  for (const name of VARIANT_NAMES) {
    const v = stored[name];
    if (v) variants[name] = { url: fileUrl(photo.uuid, name), width: v.width, height: v.height, bitrate: v.bitrate, size: v.size };
  }
  return {
    uuid: photo.uuid,
    original: { url: photoFileUrl(photo.uuid, "original"), size: photo.size, path: photo.r2Key },
    variants: Object.keys(variants).length > 0 ? variants : [],
    thumbnail: video && photo.thumbnailKey ? fileUrl(photo.uuid, "thumbnail") : null,
    processing_status: photo.processingStatus,
    processed,
    processed_at: processed ? photo.processedAt : null,
  };
});

/** A processed video's variant (MP4) or thumbnail (JPEG). */
export const downloadVideoVariant = useCase(VIEW_PHOTOS, async (scope, input: { uuid: string; variant: FileKind; range: RangeRequest }) =>
  visibleFile(scope, { table: photos, uuid: input.uuid, what: "Video", range: input.range }, (photo) => {
    if (photo.kind !== "video") return undefined;
    const processed = photo.processingStatus === "completed";
    const thumbnail = input.variant === "thumbnail";
    const key = !processed
      ? null
      : thumbnail
        ? photo.thumbnailKey
        : (storedVariants(photo.variants)[input.variant as VariantName]?.key ?? null);
    if (!key) throw new ApiError("NOT_FOUND", `Video has no ${input.variant} (processing_status: ${photo.processingStatus})`);
    const base = photo.filename.replace(/\.[^.]*$/, "");
    return {
      key,
      contentType: thumbnail ? "image/jpeg" : "video/mp4",
      filename: thumbnail ? `${base}-thumbnail.jpg` : `${base}-${input.variant}.mp4`,
      disposition: "inline",
      missing: `Video ${input.variant} file not found`,
    };
  }),
);
