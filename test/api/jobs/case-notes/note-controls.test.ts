/**
 * Control characters in case notes (issue 25): the API refuses a message holding C0 controls
 * (tab, LF and CR aside) or DEL with a 400 naming the field, and stores nothing; character
 * references that decode to one (`&#1;` in HTML) are dropped by the sanitiser. Inbound mail strips
 * them instead (test/channels/email-inbound.test.ts), so neither path stores them.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, api, createJob, expectStatus, seedFixtures } from "../../../support/helpers";

let staff: Actor;
let job: { job_uuid: string };
/** A C0 control but tab, LF and CR, or DEL (spelled out here, not the code's own pattern). */
const hasControl = (s: string) => [...s].some((ch) => (ch < " " && !"\t\n\r".includes(ch)) || ch === "\u007f");
const MESSAGE_ERROR = { field: "message", message: "must not contain control characters (tab and line breaks are fine)" };

beforeAll(async () => {
  const fx = await seedFixtures();
  staff = await actor("staff");
  job = await createJob(staff, fx);
});

const notes = async () => (await env.DB.prepare("SELECT count(*) AS n FROM case_notes").first<{ n: number }>())?.n;
const post = (body: Record<string, unknown>, as: "json" | "form" = "json") =>
  api("POST", "/api/jobs/case-notes", { token: staff.token, csrf: staff.csrf, body, as });
const listed = async () => {
  const res = await api("GET", `/api/jobs/case-notes?action=list&job_uuid=${job.job_uuid}`, { token: staff.token });
  expectStatus(res, 200);
  return (res.body.data as { uuid: string; message: string }[]).map((n) => n);
};

describe("case notes and control characters", () => {
  it.each([
    ["NUL", "Boiler\u0000 fixed"],
    ["ESC (a terminal sequence)", "Boiler \u001b[2J fixed"],
    ["BEL", "Boiler fixed\u0007"],
    ["DEL", "Boiler\u007f fixed"],
    ["NUL inside HTML", "<p>Boiler\u0000 fixed</p>"],
  ])("a message with %s is 400 and stores nothing (JSON and form)", async (_name, message) => {
    const before = await notes();
    for (const as of ["json", "form"] as const) {
      const res = await post({ action: "create", job_uuid: job.job_uuid, message }, as);
      expectStatus(res, 400);
      expect(res.body.errors).toEqual([MESSAGE_ERROR]);
    }
    expect(await notes()).toBe(before);
  });

  it("an edit with a control character is 400 and keeps the note as it was", async () => {
    const created = await post({ action: "create", job_uuid: job.job_uuid, message: "Before the edit" });
    expectStatus(created, 201);
    const res = await post({ action: "update", uuid: created.body.note_uuid, message: "After\u0000 the edit" });
    expectStatus(res, 400);
    expect(res.body.errors).toEqual([MESSAGE_ERROR]);
    expect((await listed()).find((n) => n.uuid === created.body.note_uuid)?.message).toBe("Before the edit");
  });

  it("tab and line breaks are text; character references to controls are dropped from HTML", async () => {
    const plain = await post({ action: "create", job_uuid: job.job_uuid, message: "Line one\r\n\tLine two" });
    expectStatus(plain, 201);
    const html = await post({ action: "create", job_uuid: job.job_uuid, message: "<p>Valve&#1; closed&#x1b;</p>" });
    expectStatus(html, 201);
    const byUuid = Object.fromEntries((await listed()).map((n) => [n.uuid, n.message]));
    expect(byUuid[plain.body.note_uuid]).toBe("Line one\nLine two");
    expect(byUuid[html.body.note_uuid]).toBe("<p>Valve closed</p>");
    for (const m of Object.values(byUuid)) expect(hasControl(m), JSON.stringify(m)).toBe(false);
  });
});
