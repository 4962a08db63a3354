import { EmailMessage } from "cloudflare:email";
import { buildMime, type MimeMessage } from "./mime";

export interface SendResult {
  to: string;
  ok: boolean;
  error?: string;
}

/**
 * Sends the message to each recipient through the send_email binding (one envelope recipient per
 * EmailMessage). With `separately`, each copy names only its own recipient in To (as Bcc would:
 * same Message-ID), so parties do not learn each other's addresses, and one bad address fails
 * only its own copy. Never throws: every failure comes back per recipient, so the caller can
 * record it where users see it.
 */
export async function sendMail(binding: SendEmail, message: MimeMessage, opts: { separately?: boolean } = {}): Promise<SendResult[]> {
  const fail = (to: string, err: unknown) => ({ to, ok: false, error: err instanceof Error ? err.message : String(err) });
  let shared: string | undefined;
  if (!opts.separately) {
    try {
      shared = buildMime(message);
    } catch (err) {
      return message.to.map((to) => fail(to, err));
    }
  }
  return Promise.all(
    message.to.map(async (to) => {
      try {
        const raw = shared ?? buildMime({ ...message, to: [to] });
        await binding.send(new EmailMessage(message.from, to, raw));
        return { to, ok: true };
      } catch (err) {
        return fail(to, err);
      }
    }),
  );
}
