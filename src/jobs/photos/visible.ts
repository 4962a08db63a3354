import { and, eq } from "drizzle-orm";
import { jobs, photos } from "../../db/schema";
import type { RequestContext } from "../../http/context";

/** A photo or video by uuid, if its job is visible to the caller (one read with the token check). */
export async function readVisiblePhoto(ctx: RequestContext, uuid: string) {
  const [rows] = await ctx.read([
    ctx.db
      .select({ photo: photos })
      .from(photos)
      .innerJoin(jobs, eq(jobs.id, photos.jobId))
      .where(and(eq(photos.uuid, uuid), await ctx.jobVisible())),
  ]);
  return rows[0]?.photo;
}
