/**
 * API latency through a local `wrangler dev` (local D1): each endpoint's median and p95 over
 * sequential requests, as a ratio to a baseline measured in the same run (GET /, the Worker
 * without D1), so the figures survive a noisy shared machine. 1 000 jobs are seeded first.
 *   npm run bench -- api
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { startLocalApi, stats, time } from "./lib";

const N = Number(process.env.BENCH_N ?? 200);
const api = await startLocalApi();
try {
  // One token per case: the API rate-limits per token (600 a minute), and each case sends N.
  const userUuid = randomUUID();
  const tokens = Array.from({ length: 8 }, () => `pp_${userUuid.replaceAll("-", "")}_${randomBytes(32).toString("base64url")}`);
  const tokenRows = tokens.map((t) => `('${randomUUID()}', 1, 'bench', '${createHash("sha256").update(t).digest("hex")}')`).join(", ");
  api.sql(
    `INSERT INTO users (id, uuid, name, email, role) VALUES (1, '${userUuid}', 'Bench', 'bench@example.com', 'staff');` +
      `INSERT INTO api_tokens (uuid, user_id, name, token_hash) VALUES ${tokenRows};` +
      "INSERT INTO addresses (id, line1, town, postcode, search_text) VALUES (1, '1 Bench Street', 'Town', 'BN1 1AA', '1 bench street town bn1 1aa');" +
      "INSERT INTO contractors (id, uuid, name) VALUES (20, 'c', 'Contractor_001');" +
      `INSERT INTO jobs (uuid, job_ref, job_title, job_description, status_id, priority_id, job_type_id, address_id, contractor_id, vat_percentage, contractor_budget, sla_started_at, sla_deadline)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
       SELECT lower(hex(randomblob(4))) || '-0000-4000-8000-' || printf('%012d', i), 'JOB-' || printf('%04d', i), 'Boiler service ' || i, 'Annual service for unit ' || i,
              1 + (i % 4), 1 + (i % 4), 3, 1, 20, 20.0, 100 + i, '2026-01-01T00:00:00Z', '2026-01-04T00:00:00Z' FROM n;`,
  );
  let next = 0;
  const auth = () => ({ Authorization: `Bearer ${tokens[next++ % tokens.length]}` });
  const headers = auth();
  const get = (path: string) => {
    const own = auth();
    return async () => {
      const res = await fetch(`${api.base}${path}`, { headers: own });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
  };
  const createHeaders = auth();
  const csrf = ((await (await fetch(`${api.base}/api/security/csrf-token`, { headers: createHeaders })).json()) as { csrf_token: string })
    .csrf_token;
  const anyJob = (
    (await (await fetch(`${api.base}/api/jobs/manage?action=list&limit=1`, { headers })).json()) as { data: { uuid: string }[] }
  ).data[0]?.uuid;
  const create = async () => {
    const res = await fetch(`${api.base}/api/jobs/manage`, {
      method: "POST",
      headers: { ...createHeaders, "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({
        action: "create",
        job_title: "Bench",
        job_description: "Bench job",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: 1,
        private_contact_name: "Bench Person",
      }),
    });
    if (res.status !== 201) throw new Error(`create: ${res.status}`);
    await res.arrayBuffer();
  };
  const cases: [string, () => Promise<void>][] = [
    ["baseline GET / (no D1)", get("/")],
    ["GET csrf-token (token check only)", get("/api/security/csrf-token")],
    ["GET jobs list, 50 of 1000", get("/api/jobs/manage?action=list")],
    ["GET jobs list, filtered status+priority", get("/api/jobs/manage?action=list&status_id=2&priority_id=2&limit=20")],
    ["GET jobs list, search 'boiler service 99'", get("/api/jobs/manage?action=list&search=boiler%20service%2099")],
    ["GET one job (decrypts private fields)", get(`/api/jobs/manage?action=get&uuid=${anyJob}`)],
    ["POST create job (encrypts, audits)", create],
  ];
  for (const [, fn] of cases) await time(fn, 10); // warm up
  const rows: [string, number, number][] = [];
  for (const [name, fn] of cases) {
    const s = stats(await time(fn, N));
    rows.push([name, s.median, s.p95]);
  }
  const base = rows[0]?.[1] ?? 1;
  console.log(`\nAPI latency over ${N} sequential requests each (local wrangler dev, 2 shared cores)\n`);
  console.log(`${"case".padEnd(44)} ${"median ms".padStart(10)} ${"p95 ms".padStart(8)} ${"× baseline".padStart(11)}`);
  for (const [name, median, p95] of rows) {
    console.log(
      `${name.padEnd(44)} ${median.toFixed(2).padStart(10)} ${p95.toFixed(2).padStart(8)} ${(median / base).toFixed(2).padStart(11)}`,
    );
  }
} finally {
  api.stop();
}
