/**
 * Uploads bench (issue 22): the same ~20 MB file sent to `wrangler dev` on loopback as a plain
 * multipart upload (POST /api/jobs/documents, action=upload) and as a tus resumable upload
 * (tus-js-client 4.3.1 → /api/uploads: one PATCH, and in 5 MiB chunks), alternated in one run;
 * the ratio of the resumable throughput to the plain one (target ≥ 0.8×), and the peak RSS of the
 * Worker's workerd processes during each kind of upload (sampled every 25 ms from /proc).
 *
 * A document rather than a video: the same intake → store → record path without a transcode job
 * competing for the two cores while the next upload is timed.
 *
 * Run: npm run bench:uploads   (BENCH_REPEATS=n, default 5; Linux, for /proc)
 */
import { readdirSync, readFileSync } from "node:fs";
import { Upload } from "tus-js-client";
import { Logs, startLocalApi } from "../scripts/lib/local-api.ts";

const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 5) || 5);
const SIZE = 19 * 1024 * 1024 + 512 * 1024;
const MiB = 1024 * 1024;

/** A plain PDF of SIZE bytes: one stream of harmless text (nothing an active-content check would stop at). */
function makePdf(): Buffer {
  const head = "%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n";
  const tail = "\nendstream\nendobj\ntrailer\n<</Root 1 0 R>>\nstartxref\n0\n%%EOF\n";
  let streamHead = "";
  let dataLength = 0;
  // The stream's /Length figure changes the header's own length: settle it.
  for (let i = 0; i < 3; i++) {
    streamHead = `3 0 obj\n<</Length ${dataLength}>>stream\n`;
    dataLength = SIZE - head.length - streamHead.length - tail.length;
  }
  const line = Buffer.from("Flow 12 l/min, pressure 1.4 bar, all joints dry.\n");
  const data = Buffer.alloc(dataLength);
  for (let at = 0; at < dataLength; at += line.length) line.copy(data, at, 0, Math.min(line.length, dataLength - at));
  return Buffer.concat([Buffer.from(head), Buffer.from(streamHead), data, Buffer.from(tail)]);
}

/** The Worker's processes: workerd children in wrangler dev's process group. */
function workerdPids(group: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === group && stat.includes("(workerd)")) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const rssMiB = (pid: number) => {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0;
  }
};

/** Samples the RSS of each process while `work` runs; answers the largest per process and of the sum. */
async function peakRss<T>(pids: number[], work: () => Promise<T>) {
  const peak = new Map<number, number>(pids.map((p) => [p, rssMiB(p)]));
  const before = pids.reduce((s, p) => s + (peak.get(p) ?? 0), 0);
  let sum = before;
  const timer = setInterval(() => {
    let now = 0;
    for (const p of pids) {
      const r = rssMiB(p);
      now += r;
      peak.set(p, Math.max(peak.get(p) ?? 0, r));
    }
    sum = Math.max(sum, now);
  }, 25);
  try {
    const result = await work();
    return { result, before, sum, largest: Math.max(...peak.values()) };
  } finally {
    clearInterval(timer);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const logs = new Logs();
process.stdout.write(`starting wrangler dev (bundle, migrations)…\n`);
const api = await startLocalApi({ logs, vars: { TRANSCODER_URL: "http://127.0.0.1:9" } });
try {
  const auth = { Authorization: `Bearer ${api.token}` };
  const csrf = String(
    ((await (await fetch(`${api.url}/api/security/csrf-token`, { headers: auth })).json()) as { csrf_token: string }).csrf_token,
  );
  const created = (await (
    await fetch(`${api.url}/api/jobs/manage`, {
      method: "POST",
      headers: { ...auth, "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify({
        action: "create",
        job_title: "Bench - Unit 001",
        job_description: "Upload bench",
        priority_id: 2,
        status_id: 1,
        job_type_id: 3,
        address_id: 9001,
      }),
    })
  ).json()) as { job_id: number };
  const file = makePdf();

  const plain = async () => {
    const form = new FormData();
    form.append("action", "upload");
    form.append("job_id", String(created.job_id));
    form.append("file_type_id", "1");
    form.append("file", new Blob([file], { type: "application/pdf" }), "bench.pdf");
    const res = await fetch(`${api.url}/api/jobs/documents`, { method: "POST", headers: { ...auth, "X-CSRF-Token": csrf }, body: form });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`plain upload: ${res.status} ${text}`);
  };
  const resumable = (chunkSize?: number) =>
    new Promise<void>((resolve, reject) => {
      new Upload(file, {
        endpoint: `${api.url}/api/uploads`,
        headers: { ...auth, "X-CSRF-Token": csrf },
        metadata: { filename: "bench.pdf", job_id: String(created.job_id), target: "document", file_type_id: "1" },
        chunkSize: chunkSize ?? Number.POSITIVE_INFINITY,
        retryDelays: null,
        onError: reject,
        onSuccess: () => resolve(),
      }).start();
    });

  const kinds = {
    plain: () => plain(),
    "tus, one PATCH": () => resumable(),
    "tus, 5 MiB chunks": () => resumable(5 * MiB),
  } as const;
  type Kind = keyof typeof kinds;
  const times: Record<Kind, number[]> = { plain: [], "tus, one PATCH": [], "tus, 5 MiB chunks": [] };
  const memory: Record<Kind, { before: number; sum: number; largest: number }[]> = {
    plain: [],
    "tus, one PATCH": [],
    "tus, 5 MiB chunks": [],
  };
  const pids = workerdPids(api.wrangler?.pid ?? 0);
  process.stdout.write(`file ${(file.length / MiB).toFixed(1)} MiB; workerd processes ${pids.join(", ")}; ${REPEATS} rounds\n`);
  // A warm-up of each, not timed (the first request compiles the Worker's code paths).
  for (const run of Object.values(kinds)) await run();
  for (let round = 0; round < REPEATS; round++) {
    for (const [kind, run] of Object.entries(kinds) as [Kind, () => Promise<void>][]) {
      const started = performance.now();
      const sampled = await peakRss(pids, run);
      times[kind].push(performance.now() - started);
      memory[kind].push(sampled);
    }
  }

  const mbps = (ms: number) => file.length / MiB / (ms / 1000);
  const plainMs = median(times.plain);
  process.stdout.write(
    "\nkind                  median ms   MiB/s   ratio vs plain   workerd peak RSS (largest process / all / all minus before the upload)\n",
  );
  for (const kind of Object.keys(kinds) as Kind[]) {
    const ms = median(times[kind]);
    const largest = Math.max(...memory[kind].map((m) => m.largest));
    const sum = Math.max(...memory[kind].map((m) => m.sum));
    const grown = Math.max(...memory[kind].map((m) => m.sum - m.before));
    process.stdout.write(
      `${kind.padEnd(20)} ${ms.toFixed(0).padStart(10)} ${mbps(ms).toFixed(1).padStart(7)} ${`${(plainMs / ms).toFixed(2)}×`.padStart(16)}   ${largest.toFixed(0)} MiB / ${sum.toFixed(0)} MiB / +${grown.toFixed(0)} MiB\n`,
    );
  }
  const baseline = Math.min(...memory.plain.map((m) => m.before));
  process.stdout.write(`(workerd RSS before the first timed upload: ${baseline.toFixed(0)} MiB in all)\n`);
  const ratio = plainMs / median(times["tus, one PATCH"]);
  process.stdout.write(`\nresumable / plain throughput: ${ratio.toFixed(2)}× (target ≥ 0.8×)\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : err}${logs.tail(30)}\n`);
  process.exitCode = 1;
} finally {
  await api.stop();
}
