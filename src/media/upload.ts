/**
 * The HTTP side of files: the multipart field's schema and its translation to the plain input
 * every channel hands the intake (src/media/intake.ts), so a use case never sees a `File`; and
 * the OpenAPI description of a download's answer.
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

const binary = () => ({ schema: z.string().openapi({ format: "binary" }) });

/** A download's 200: the file's bytes, in each type it may have. */
export const fileResponses = (description: string, types: readonly string[]) => ({
  200: { description, content: Object.fromEntries(types.map((t) => [t, binary()])) },
});

/** The 200 of an operation that lists (JSON) or downloads one file (`action=download`). */
// Generic over the list schema so typed clients (the dashboard) still infer the JSON answer.
export const listOrFileResponses = <T extends z.ZodType>(description: string, list: T) => ({
  200: { description, content: { "application/json": { schema: list }, "application/octet-stream": binary() } },
});
