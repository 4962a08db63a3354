import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, createJob, seedFixtures } from "../../../support/helpers";

/**
 * Range requests (RFC 9110 §14) on every download route, one table for all (issue 25): a
 * reversed or otherwise invalid range is ignored (200, whole file), several ranges answer the whole
 * file (200, no multipart), an unsatisfiable one is 416 with `Content-Range: bytes *\/size`.
 * The rows and objects are written directly: what is under test is the download, not the upload.
 */
const SIZE = 100;
const bytes = Uint8Array.from({ length: SIZE }, (_, i) => i);
let staff: Actor;
const routes: [name: string, path: string][] = [];

beforeAll(async () => {
  const fx = await seedFixtures();
  staff = await actor("staff");
  const job = await createJob(staff, fx);
  const jobId = job.job_id as number;
  const put = (key: string) => env.MEDIA.put(key, bytes, { httpMetadata: { contentType: "application/octet-stream" } });
  const uuid = () => crypto.randomUUID();
  const prefix = `jobs/${job.job_uuid}`;

  const photo = uuid();
  await put(`${prefix}/photos/${photo}`);
  await put(`${prefix}/photos/${photo}.c.jpg`);
  await env.DB.prepare(
    `INSERT INTO photos (uuid, job_id, kind, r2_key, filename, content_type, size, compressed_key, processing_status)
     VALUES (?1, ?2, 'image', ?3, 'p.jpg', 'image/jpeg', ?4, ?5, 'completed')`,
  )
    .bind(photo, jobId, `${prefix}/photos/${photo}`, SIZE, `${prefix}/photos/${photo}.c.jpg`)
    .run();

  const video = uuid();
  const variant = (name: string) => ({ key: `${prefix}/videos/${video}/${name}.mp4`, width: 1280, height: 720, bitrate: 1, size: SIZE });
  for (const key of [`${prefix}/videos/${video}`, variant("720p").key, `${prefix}/videos/${video}/thumb.jpg`]) await put(key);
  await env.DB.prepare(
    `INSERT INTO photos (uuid, job_id, kind, r2_key, filename, content_type, size, variants, thumbnail_key, processing_status)
     VALUES (?1, ?2, 'video', ?3, 'v.mp4', 'video/mp4', ?4, ?5, ?6, 'completed')`,
  )
    .bind(
      video,
      jobId,
      `${prefix}/videos/${video}`,
      SIZE,
      JSON.stringify({ "720p": variant("720p") }),
      `${prefix}/videos/${video}/thumb.jpg`,
    )
    .run();

  const doc = uuid();
  await put(`${prefix}/documents/${doc}`);
  await env.DB.prepare(
    `INSERT INTO documents (uuid, job_id, file_type_id, r2_key, filename, content_type, size) VALUES (?1, ?2, 1, ?3, 'd.pdf', 'application/pdf', ?4)`,
  )
    .bind(doc, jobId, `${prefix}/documents/${doc}`, SIZE)
    .run();

  const note = await env.DB.prepare(
    "INSERT INTO case_notes (uuid, job_id, message, message_text, created_by_name) VALUES (?1, ?2, '', '', 'Staff') RETURNING id",
  )
    .bind(uuid(), jobId)
    .first<{ id: number }>();
  const attachment = uuid();
  await put(`${prefix}/notes/${attachment}`);
  await env.DB.prepare(
    `INSERT INTO note_attachments (uuid, note_id, job_id, r2_key, filename, content_type, size) VALUES (?1, ?2, ?3, ?4, 'a.pdf', 'application/pdf', ?5)`,
  )
    .bind(attachment, note?.id, jobId, `${prefix}/notes/${attachment}`, SIZE)
    .run();

  routes.push(
    ["photo original", `/api/jobs/photos/file?uuid=${photo}&variant=original`],
    ["photo compressed", `/api/jobs/photos/file?uuid=${photo}&variant=compressed`],
    ["video variant", `/api/jobs/video-variants/file?uuid=${video}&variant=720p`],
    ["video thumbnail", `/api/jobs/video-variants/file?uuid=${video}&variant=thumbnail`],
    ["document", `/api/jobs/documents?action=download&uuid=${doc}`],
    ["note attachment", `/api/jobs/case-notes?action=download&uuid=${attachment}`],
  );
});

type Expected = { status: 200 } | { status: 206; first: number; last: number } | { status: 416 };
const cases: [range: string | undefined, expected: Expected][] = [
  [undefined, { status: 200 }],
  ["bytes=0-9", { status: 206, first: 0, last: 9 }],
  ["bytes=10-", { status: 206, first: 10, last: SIZE - 1 }],
  ["bytes=-4", { status: 206, first: SIZE - 4, last: SIZE - 1 }],
  ["bytes=-1000", { status: 206, first: 0, last: SIZE - 1 }],
  ["bytes=90-1000", { status: 206, first: 90, last: SIZE - 1 }],
  ["bytes=99-99", { status: 206, first: 99, last: 99 }],
  ["BYTES = 1-2", { status: 206, first: 1, last: 2 }],
  // Unsatisfiable: 416 with the size.
  [`bytes=${SIZE}-`, { status: 416 }],
  [`bytes=${SIZE + 10}-${SIZE + 20}`, { status: 416 }],
  ["bytes=-0", { status: 416 }],
  ["bytes=99999999999999999999-", { status: 416 }],
  // Invalid: ignored, the whole file.
  ["bytes=5-2", { status: 200 }],
  ["bytes=abc", { status: 200 }],
  ["bytes=1-2-3", { status: 200 }],
  ["bytes=-", { status: 200 }],
  ["bytes=", { status: 200 }],
  ["items=0-1", { status: 200 }],
  ["bytes=0x1-2", { status: 200 }],
  // Several ranges: the whole file (no multipart/byteranges).
  ["bytes=0-1,3-4", { status: 200 }],
  ["bytes=0-1, -2", { status: 200 }],
];

describe("Range on every download route", () => {
  it("answers each Range header per RFC 9110 on every route", async () => {
    expect(routes).toHaveLength(6);
    const wrong: string[] = [];
    for (const [name, path] of routes) {
      for (const [range, want] of cases) {
        const headers: Record<string, string> = { Authorization: `Bearer ${staff.token}` };
        if (range !== undefined) headers.Range = range;
        const res = await exports.default.fetch(new Request(`https://propops.test${path}`, { headers }));
        const body = new Uint8Array(await res.arrayBuffer());
        const got = `${res.status} ${res.headers.get("content-range") ?? "-"} ${body.length} bytes`;
        const expected =
          want.status === 200
            ? `200 - ${SIZE} bytes`
            : want.status === 416
              ? `416 bytes */${SIZE} 0 bytes`
              : `206 bytes ${want.first}-${want.last}/${SIZE} ${want.last - want.first + 1} bytes`;
        if (got !== expected) wrong.push(`${name}, ${range ?? "no Range"}: got ${got}, want ${expected}`);
        else if (want.status === 206) {
          if (body.join() !== bytes.slice(want.first, want.last + 1).join()) wrong.push(`${name}, ${range}: wrong bytes`);
          if (res.headers.get("content-length") !== String(want.last - want.first + 1)) wrong.push(`${name}, ${range}: Content-Length`);
        } else if (want.status === 200 && body.join() !== bytes.join()) wrong.push(`${name}, ${range}: wrong bytes`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
