import { z } from "@hono/zod-openapi";
import { rotateEncryptedFields } from "../crypto/rotate";
import { ENCRYPTED_COLUMNS } from "../domain/encrypted-columns";
import { done } from "../http/envelope";
import { ex } from "../http/openapi-samples";
import { jsonResponse, operation } from "../http/operation";

/**
 * Key rotation in production: after adding a new key to ENCRYPTION_KEYS and making it active,
 * call this (`api.admin.rotate_keys`: admins only) until `complete` is true — `npm run rotate-keys -- --url … --token …`
 * does the loop. Old keys stay in the ring until then, so every value keeps decrypting.
 */
export const rotateKeys = operation({
  method: "post",
  path: "/api/admin/rotate-keys",
  operationId: "rotateEncryptionKeys",
  summary: "Re-encrypt stored private fields under the active key (admins; bounded per call)",
  tag: "Admin",
  permission: "api.admin.rotate_keys",
  body: z.strictObject({ limit: z.coerce.number().int().min(1).max(2000).default(500) }),
  responses: {
    200: jsonResponse(
      "Progress",
      z.object({
        success: z.literal(true),
        rotated: z.number().int(),
        complete: z.boolean(),
        active_key_id: z.string(),
        message: z.string(),
      }),
    ),
  },
  handler: async (c, { body }) => {
    const ctx = c.var.ctx;
    const cipher = await ctx.cipher();
    const result = await rotateEncryptedFields(c.env.DB, cipher, ENCRYPTED_COLUMNS, body.limit);
    return done(c, result.complete ? "All encrypted fields use the active key" : "Rotation in progress: call again", {
      rotated: result.rotated,
      complete: result.complete,
      active_key_id: cipher.activeKeyId,
    });
  },
  docs: {
    description:
      "Administrators only. After a new key is added to ENCRYPTION_KEYS and made active, call this until `complete` is true (`npm run rotate-keys` loops); old keys stay in the ring until then.",
    body: { batch: ex("Re-encrypt up to 500 rows under the active key", { limit: 500 }) },
    responses: {
      200: {
        done: ex("Every row is under the active key", {
          success: true,
          rotated: 42,
          complete: true,
          active_key_id: "k2",
          message: "All encrypted fields use the active key",
        }),
      },
    },
    notFound: false,
  },
});
