/**
 * The HTTP side of a file upload: the multipart field's schema and its translation to the plain
 * input every channel hands the intake (src/media/intake.ts), so a use case never sees a `File`.
 */
import { z } from "@hono/zod-openapi";
import type { UploadInput } from "./intake";

/** A multipart file field; JSON and form bodies cannot carry one. */
export const zFile = () =>
  z
    .custom<File>((v) => v instanceof File, { message: "is required: send the file as multipart/form-data" })
    .openapi({
      type: "string",
      format: "binary",
    });

/** A multipart `File` as plain input: its bytes, name and declared type. */
export async function fileInput(file: File): Promise<UploadInput> {
  return { bytes: new Uint8Array(await file.arrayBuffer()), filename: file.name, declaredType: file.type };
}

export const fileInputs = (files: File[]): Promise<UploadInput[]> => Promise.all(files.map(fileInput));
