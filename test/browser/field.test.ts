/**
 * The contractor's field mode (/app/field/) in Debian's chromium at phone size (390×844), against
 * the browser suite's local stack (harness.ts): the contractor opens today's jobs, goes offline
 * (network emulation), adds a note and two photos and completes the job, reloads the page offline
 * and still sees the job and the queued work (service worker shell, IndexedDB store), goes online,
 * and the API then holds exactly one note, two photos and one completion. The note's first answer
 * is cut on the way back (the API applied it, the phone never heard): the resend with the same
 * Idempotency-Key is a replay, not a second note. A refused step is shown and kept, not dropped.
 * axe-core finds nothing serious or critical on the field screens. Screenshots: test-output/browser/.
 *
 * Run: npm run test:browser   (or: npm run build:dashboard && node --test test/browser/field.test.ts)
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import AxeBuilder from "@axe-core/playwright";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { makeJpeg } from "../../scripts/lib/media-fixtures.ts";
import { ROOT, type Stack, startStack } from "./harness.ts";

const SHOTS = path.join(ROOT, "test-output/browser");
const PHONE = { width: 390, height: 844 };

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

type Job = { uuid: string; ID: number; job_ref: string; status_id: number; status_name: string; contractor_id: number | null };

async function api<T>(token: string, pathname: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (init.body) {
    const csrf = await (await fetch(`${stack.url}/api/security/csrf-token`, { headers })).json();
    headers["X-CSRF-Token"] = (csrf as { csrf_token: string }).csrf_token;
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(`${stack.url}${pathname}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  const json = (await res.json()) as T;
  assert.ok(res.status < 300, `${pathname}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Polls a browser-side expression (a string: the page's CSP forbids eval, page.evaluate goes through the debugger). */
async function waitUntil(expression: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function shot(name: string) {
  await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`), fullPage: true });
}

/** axe-core on the screen shown now: nothing serious or critical. */
async function accessible(what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `${what}: axe-core found serious or critical violations`,
  );
}

const pendingCount = () => page.getByTestId("pending").locator("li").count();

before(
  async () => {
    const [started] = await Promise.all([startStack(), mkdir(SHOTS, { recursive: true })]);
    stack = started;
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  },
  { timeout: 240_000 },
);

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test("offline on site: a note, two photos and the completion are queued, survive a reload, and land once each", {
  timeout: 180_000,
}, async () => {
  const mine = await api<{ data: Job[] }>(stack.tokens.contractor, "/api/jobs/manage?action=list&limit=200");
  const job = mine.data.find((j) => j.status_id === 4);
  assert.ok(job, "the seed gives the contractor a job in progress");
  // A job booked for tomorrow, so the phone shows an upcoming one with its Accept step.
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const base = await api<{ data: { address_id: number; priority_id: number; job_type_id: number } }>(
    stack.tokens.manager,
    `/api/jobs/manage?action=get&uuid=${job.uuid}`,
  );
  await api(stack.tokens.manager, "/api/jobs/manage", {
    method: "POST",
    body: {
      action: "create",
      job_title: "Extractor fan replacement",
      job_description: "Bathroom extractor fan is silent; replace like for like.",
      priority_id: base.data.priority_id,
      status_id: 3,
      job_type_id: base.data.job_type_id,
      address_id: base.data.address_id,
      contractor_id: job.contractor_id,
      date_works_start_date: tomorrow,
      date_works_end_date: tomorrow,
      access_details: "Caretaker on 07700 900123; parking at the rear.",
    },
  });
  const notesBefore = await api<{ count: number }>(stack.tokens.contractor, `/api/jobs/case-notes?action=list&job_uuid=${job.uuid}`);

  const t0 = Date.now();
  const mark = (what: string) => process.env.FIELD_TIMING && console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
  page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${stack.url}/app/field/`);
  await page.getByLabel("API token").fill(stack.tokens.contractor);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Your jobs" }).waitFor();
  const today = page.getByTestId("jobs-today");
  await today.getByRole("link", { name: new RegExp(`^${job.job_ref} `) }).waitFor();
  const upcoming = page.getByTestId("jobs-upcoming").getByRole("link");
  assert.equal(await upcoming.count(), 1);
  assert.match((await upcoming.textContent()) ?? "", /Extractor fan replacement/);
  assert.equal(
    await page.getByTestId("jobs-today").locator("li").count(),
    mine.data.filter((j) => ![6, 7, 8, 9].includes(j.status_id)).length,
  );
  // Compact at 390 px: every row well under 100 px tall, the whole list within two screens.
  const rowHeights = await page.locator(".f-row").evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height));
  assert.ok(Math.max(...rowHeights) < 100, `row heights ${rowHeights}`);
  assert.ok(Number(await page.evaluate("document.documentElement.scrollHeight")) < 2 * PHONE.height);
  await waitUntil("navigator.serviceWorker.controller !== null");
  await accessible("jobs list");
  mark("jobs shown");
  await shot("field-jobs");

  // The upcoming job: its map link, the caretaker's number as tap-to-call, and the Accept step.
  await upcoming.click();
  await page.getByRole("heading", { level: 1, name: /Extractor fan replacement/ }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Call 07700 900123" }).getAttribute("href"), "tel:07700900123");
  assert.match(
    (await page.getByRole("link", { name: "Open in maps" }).getAttribute("href")) ?? "",
    /^https:\/\/www\.google\.com\/maps\/search\/\?api=1&query=/,
  );
  await page.getByRole("button", { name: "Accept job" }).waitFor();
  await page.getByRole("link", { name: "← Your jobs" }).click();

  await today.getByRole("link", { name: new RegExp(`^${job.job_ref} `) }).click();
  await page.getByRole("heading", { level: 1, name: new RegExp(`^${job.job_ref} · `) }).waitFor();
  assert.match((await page.getByTestId("access").textContent()) ?? "", /Key safe code/);
  assert.equal(await page.getByLabel("Photo stage").inputValue(), "after");

  // No signal in the plant room.
  mark("offline");
  await context.setOffline(true);
  await page.getByTestId("sync").filter({ hasText: "Offline" }).waitFor();
  const noteText = "Isolated the circuit, replaced the scorched double socket, tested RCD.";
  await page.getByLabel("Note", { exact: true }).fill(noteText);
  await page.getByRole("button", { name: "Add note" }).click();
  await page
    .getByTestId("pending")
    .getByText(/^Note: Isolated the circuit/)
    .waitFor();
  await page.getByLabel("Take photo or video").setInputFiles([
    { name: "socket-after-1.jpg", mimeType: "image/jpeg", buffer: Buffer.from(makeJpeg(800, 600, 85, 7)) },
    { name: "socket-after-2.jpg", mimeType: "image/jpeg", buffer: Buffer.from(makeJpeg(800, 600, 85, 8)) },
  ]);
  await page.getByTestId("pending").getByText("Photo (after): socket-after-2.jpg").waitFor();
  await page.getByLabel("Completion note").fill("Socket replaced and tested; circuit back on.");
  await page.getByRole("button", { name: "Complete job" }).click();
  await page.getByText(/^Queued: the completion\./).waitFor();
  assert.equal(await pendingCount(), 4);
  assert.match((await page.getByTestId("sync").textContent()) ?? "", /Offline · 4 waiting to send/);

  // Reload with no network: the service worker serves the shell, IndexedDB the job and the queue.
  mark("queued 4");
  await page.reload();
  await page.getByRole("heading", { level: 1, name: new RegExp(`^${job.job_ref} · `) }).waitFor();
  await page.getByTestId("pending").waitFor();
  assert.equal(await pendingCount(), 4);
  assert.equal(await page.getByRole("img", { name: /^Queued photo socket-after-/ }).count(), 2);
  await accessible("job page, offline with queued work");
  await shot("field-job-offline");
  const stillNone = await api<{ count: number }>(stack.tokens.contractor, `/api/jobs/case-notes?action=list&job_uuid=${job.uuid}`);
  assert.equal(stillNone.count, notesBefore.count, "nothing reached the API while offline");

  // Every write the page sends, to show the photos went up through tus.
  const writes: string[] = [];
  context.on("request", (r) => {
    if (r.method() !== "GET") writes.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  // The first photo's last chunk is stored but its answer lost: the resume asks the offset (HEAD) and finds it done.
  let patches = 0;
  await context.route("**/api/uploads/*", async (route) => {
    if (route.request().method() !== "PATCH" || ++patches > 1) return route.fallback();
    await route.fetch();
    await route.abort("connectionreset");
  });
  // The note's first answer is lost on the way back: the API applied it, the phone saw a cut connection.
  let notePosts = 0;
  await context.route("**/api/jobs/case-notes", async (route) => {
    if (route.request().method() !== "POST") return route.fallback();
    notePosts++;
    if (notePosts > 1) return route.fallback();
    await route.fetch();
    await route.abort("connectionreset");
  });
  mark("reloaded");
  // Where the office's live stream stands before the phone sends anything.
  const liveFrom = (await api<{ after: number }>(stack.tokens.manager, "/api/live", { method: "POST", body: {} })).after;
  await context.setOffline(false);
  await page.getByTestId("sync").filter({ hasText: "all sent" }).waitFor({ timeout: 90_000 });
  await page.getByTestId("job-status").filter({ hasText: "Completed" }).waitFor();
  assert.equal(notePosts, 2, "the note was sent twice (the first answer lost), with one key");
  assert.equal(writes.filter((w) => w === "POST /api/uploads").length, 2, `two tus uploads created: ${writes.join(", ")}`);
  // The cut chunk had landed: the resume's HEAD finds the upload finished and sends nothing again.
  assert.equal(writes.filter((w) => w.startsWith("PATCH /api/uploads/")).length, 2, `one chunk per photo: ${writes.join(", ")}`);
  assert.equal(writes.filter((w) => w.startsWith("HEAD /api/uploads/")).length, 1, "one resume, of the cut upload");
  assert.equal(writes.filter((w) => w === "POST /api/jobs/photos").length, 0, "no plain multipart upload");
  mark("synced");
  await accessible("job page, synced");
  await shot("field-job-synced");

  // The API holds exactly one note, two photos and one completion.
  const notes = await api<{ data: { message: string }[]; count: number }>(
    stack.tokens.contractor,
    `/api/jobs/case-notes?action=list&job_uuid=${job.uuid}`,
  );
  assert.equal(notes.data.filter((n) => n.message.includes(noteText)).length, 1, "one note");
  assert.equal(notes.count, notesBefore.count + 2, "the note and the completion note, nothing more");
  const photos = await api<{ data: Record<string, { original_filename?: string }[]> }>(
    stack.tokens.contractor,
    `/api/jobs/photos?job_id=${job.ID}`,
  );
  assert.equal(Object.values(photos.data).flat().length, 2, "two photos");
  assert.equal(photos.data.after?.length, 2);
  const audit = await api<{ data: { action: string }[] }>(stack.tokens.manager, `/api/jobs/audit?job_uuid=${job.uuid}&limit=200`);
  assert.equal(audit.data.filter((e) => e.action === "job.completed").length, 1, "one completion");
  assert.equal(audit.data.filter((e) => e.action === "photo.uploaded").length, 2);
  const after = await api<{ data: { status_name: string } }>(stack.tokens.contractor, `/api/jobs/manage?action=get&uuid=${job.uuid}`);
  assert.equal(after.data.status_name, "Completed");
  // Visible live to the manager: the office's event stream (polled here, as a client without
  // WebSockets reads it) carries each change of the sync once.
  // The hub takes in the outbox just after each write answers: poll (bounded) until the last is in.
  let seen: string[] = [];
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
    const live = await api<{ events: { type: string; job_uuid: string | null }[] }>(
      stack.tokens.manager,
      `/api/live/events?after=${liveFrom}&limit=200`,
    );
    seen = live.events.filter((e) => e.job_uuid === job.uuid).map((e) => e.type);
    if (seen.includes("job.completed") && seen.filter((t) => t === "media.uploaded").length >= 2) break;
  }
  assert.equal(seen.filter((t) => t === "job.completed").length, 1, `one completion live: ${seen.join(", ")}`);
  assert.equal(seen.filter((t) => t === "media.uploaded").length, 2, `two photos live: ${seen.join(", ")}`);
  assert.ok(seen.includes("note.added"), `the note live: ${seen.join(", ")}`);
});

test("a step the office has overtaken is shown as a conflict to resolve, never dropped", { timeout: 90_000 }, async () => {
  const mine = await api<{ data: Job[] }>(stack.tokens.contractor, "/api/jobs/manage?action=list&limit=200");
  const upcoming = mine.data.find((j) => j.status_id === 3);
  assert.ok(upcoming);
  await page.goto(`${stack.url}/app/field/#/jobs/${upcoming.uuid}`);
  await page.getByRole("button", { name: "Accept job" }).waitFor();
  await context.setOffline(true);
  await page.getByTestId("sync").filter({ hasText: "Offline" }).waitFor();
  await page.getByRole("button", { name: "Accept job" }).click();
  await page.getByText(/^Queued: the acceptance\./).waitFor();
  // Meanwhile the office cancels the job: the acceptance can no longer be taken.
  await api(stack.tokens.manager, "/api/jobs/manage", { method: "POST", body: { action: "update", uuid: upcoming.uuid, status_id: 8 } });
  await context.setOffline(false);
  const conflict = page.getByTestId("pending").getByRole("alert");
  await conflict.waitFor({ timeout: 60_000 });
  assert.match((await conflict.textContent()) ?? "", /Refused by the office system: .+/);
  assert.equal(await pendingCount(), 1, "the refused step stays on the phone");
  await page.getByTestId("job-status").filter({ hasText: "Cancelled" }).waitFor();
  await accessible("job page with a conflict");
  await shot("field-conflict");
  // The contractor decides: discard it (after confirming).
  page.once("dialog", (d) => void d.accept());
  await conflict.getByRole("button", { name: "Discard" }).click();
  await page.getByText("Nothing waiting: everything recorded here has reached the office.").waitFor();

  // Signing out leaves nothing of the contractor's on the phone: the store is deleted, the token with it.
  assert.ok(await page.evaluate("indexedDB.databases().then((d) => d.some((x) => x.name === 'propops-field'))"));
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { level: 1, name: "PropOps field sign-in" }).waitFor();
  assert.equal(await page.evaluate("indexedDB.databases().then((d) => d.some((x) => x.name === 'propops-field'))"), false);
  await page.reload();
  await page.getByRole("heading", { level: 1, name: "PropOps field sign-in" }).waitFor();
  await accessible("sign-in");
});
