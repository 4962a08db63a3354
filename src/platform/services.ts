import { drizzle } from "drizzle-orm/d1";
import { FieldCipher, loadKeyRing } from "../crypto/fields";
import type { Db } from "../db/db";
import * as schema from "../db/schema";
import type { MeteredD1 } from "../db/session";
import { type Clock, systemClock } from "../domain/time";
import type { MimeMessage } from "../email/mime";
import { type SendResult, sendMail } from "../email/send";
import type { MediaMessage } from "../media/messages";

export type { Db };

export interface Mailer {
  /** One message to each recipient; never throws (failures come back per recipient). */
  send(message: MimeMessage, opts?: { separately?: boolean }): Promise<SendResult[]>;
}

/**
 * What the domain needs from the platform, built once per API request, queue batch, inbound
 * email and cron run (`createServices`), and handed down: nothing below an entry point builds
 * its own database handle, cipher or mailer.
 */
export interface Services {
  readonly env: Env;
  readonly db: Db;
  /** Field encryption (the key ring is parsed once per isolate). */
  cipher(): Promise<FieldCipher>;
  /** The R2 bucket holding photos, videos, variants, documents and attachments. */
  readonly media: R2Bucket;
  readonly mediaQueue: Queue<MediaMessage>;
  readonly mailer: Mailer;
  readonly clock: Clock;
  /** Work that may finish after the answer (R2 cleanup); without a context it runs detached. */
  waitUntil(work: Promise<unknown>): void;
  readonly executionCtx: Pick<ExecutionContext, "waitUntil"> | undefined;
}

export interface ServiceOptions {
  executionCtx?: Pick<ExecutionContext, "waitUntil">;
  clock?: Clock;
  mailer?: Mailer;
  /** The D1 handle to use (e.g. a read-replica session); the binding itself by default. */
  d1?: D1Database | D1DatabaseSession | MeteredD1;
}

export function createServices(env: Env, opts: ServiceOptions = {}): Services {
  let cipher: Promise<FieldCipher> | undefined;
  const executionCtx = opts.executionCtx;
  return {
    env,
    db: drizzle((opts.d1 ?? env.DB) as D1Database, { schema }),
    cipher: () => {
      cipher ??= loadKeyRing(env.ENCRYPTION_KEYS).then((ring) => new FieldCipher(ring));
      return cipher;
    },
    media: env.MEDIA,
    mediaQueue: env.MEDIA_QUEUE as Queue<MediaMessage>,
    mailer: opts.mailer ?? { send: (message, o) => sendMail(env.EMAIL, message, o) },
    clock: opts.clock ?? systemClock,
    executionCtx,
    waitUntil: (work) => {
      const guarded = work.catch((err) => console.error("background work failed:", err instanceof Error ? err.message : err));
      if (executionCtx) executionCtx.waitUntil(guarded);
    },
  };
}
