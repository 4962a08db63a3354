/**
 * The SDK as an integrator gets it: `@propops/client` is built from the OpenAPI document, packed
 * with `npm pack`, and installed from that tarball into a new project in a temp dir outside the
 * repository (npm from its cache, offline: the SDK's dependencies are the ones this repository
 * installed). That project's program (packages/client/examples/quickstart.ts) type-checks there in
 * under 10 s of CPU, then runs against `wrangler dev`: it lists jobs, creates one, uploads a photo, adds a
 * note, meets a typed error, and receives the job's webhook, verified with the subscription's secret.
 *
 * Run: node --test --test-force-exit test/e2e/sdk-outside.test.ts   (Node ≥ 22.12). About 1 min.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import ts from "typescript";
import { type LocalApi, ROOT, startLocalApi } from "../../scripts/lib/local-api.ts";
import { makeJpeg } from "../../scripts/lib/media-fixtures.ts";

const exec = promisify(execFile);
const PKG = path.join(ROOT, "packages/client");
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");

/** The installed folders of these packages and of everything they depend on (nested copies first, as Node resolves). */
async function dependencyDirs(names: string[], from = ROOT, seen = new Map<string, string>()): Promise<string[]> {
  for (const name of names) {
    if (seen.has(name)) continue;
    let dir = "";
    for (let at = from; !dir; at = path.dirname(at)) {
      const candidate = path.join(at, "node_modules", name);
      if (
        await readFile(path.join(candidate, "package.json")).then(
          () => true,
          () => false,
        )
      )
        dir = candidate;
      else if (at === path.dirname(at)) throw new Error(`${name} is not installed`);
    }
    seen.set(name, dir);
    const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    await dependencyDirs(Object.keys(pkg.dependencies ?? {}), dir, seen);
  }
  return [...seen.values()];
}

/** `npm pack` of an installed folder into `dest`; answers the tarball's file name. */
async function pack(dir: string, dest: string): Promise<string> {
  const { stdout } = await exec("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dest, dir], { cwd: dest });
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  if (!packed) throw new Error(`npm pack ${dir}: ${stdout}`);
  return packed.filename;
}

let api: LocalApi | undefined;
let project = "";
let installLog = "";
let typecheckMs = 0;

before(
  async () => {
    // Its own API: an administrator's token (webhook subscriptions) and loopback receivers allowed.
    const starting = startLocalApi({ role: "admin", vars: { WEBHOOKS_ALLOW_LOOPBACK: "true", TRANSCODER_URL: "http://127.0.0.1:9" } });
    starting.catch(() => {}); // awaited below; a failed build must not leave it unobserved
    // The SDK from the document as it is now (npm run build:client), then packed as npm would publish it.
    await exec(process.execPath, [TSX, "scripts/build-client.ts"], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    project = await mkdtemp(path.join(tmpdir(), "propops-sdk-outside-"));
    const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", project], { cwd: PKG });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(packed, stdout);
    const files = packed.files.map((f) => f.path);
    assert.ok(files.includes("dist/index.js") && files.includes("dist/index.d.ts"), files.join(", "));
    assert.ok(!files.some((f) => f.startsWith("src/")), `only the build is published: ${files.join(", ")}`);

    await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "integrator", private: true, type: "module" }, null, 2));
    await writeFile(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          types: ["node"],
          outDir: "out",
          // As `tsc --init` writes it (the SDK's declarations were checked when it was built).
          skipLibCheck: true,
        },
        files: ["quickstart.ts"],
      }),
    );
    await copyFile(path.join(PKG, "examples/quickstart.ts"), path.join(project, "quickstart.ts"));
    await writeFile(path.join(project, "site.jpg"), makeJpeg(640, 480));
    // Offline: the SDK's dependencies (and @types/node for the program) packed from the copies this
    // repository installed, so npm needs neither the registry nor its metadata cache.
    const deps = await Promise.all(
      (await dependencyDirs(["openapi-fetch", "standardwebhooks", "@types/node"])).map((dir) => pack(dir, project)),
    );
    const install = [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      `./${packed.filename}`,
      ...deps.map((f) => `./${f}`),
    ];
    installLog = (await exec("npm", install, { cwd: project, env: { ...process.env, npm_config_update_notifier: "false" } })).stdout;
    api = await starting;
  },
  { timeout: 300_000 },
);

after(async () => {
  await api?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

test("the packed SDK installs outside the repository, offline, with only its published files", async () => {
  const installed = JSON.parse(await readFile(path.join(project, "node_modules/@propops/client/package.json"), "utf8"));
  assert.equal(installed.name, "@propops/client");
  // A real install, not a link back into the repository.
  const real = await exec("realpath", [path.join(project, "node_modules/@propops/client")]);
  assert.ok(!real.stdout.startsWith(ROOT), `${real.stdout} ${installLog}`);
  await readFile(path.join(project, "node_modules/openapi-fetch/package.json"));
  await readFile(path.join(project, "node_modules/standardwebhooks/package.json"));
});

/**
 * tsc as a library, on the project's own tsconfig: its diagnostics, and the CPU time it took (the
 * machine's load stretches wall time, not the work a type check is).
 */
function typeCheck(configFile: string) {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(project, configFile),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, "\n")),
    },
  );
  assert.ok(config);
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics];
  const used = process.cpuUsage(cpu);
  const text = ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => project,
    getNewLine: () => "\n",
  });
  return { text, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
}

test("the integrator's program type-checks (strict) in under 10 s", { timeout: 120_000 }, () => {
  const { text, cpuMs, wallMs } = typeCheck("tsconfig.json");
  assert.equal(text, "", "no type errors");
  typecheckMs = cpuMs;
  console.log(`# tsc (check + emit) of the outside project: ${(cpuMs / 1000).toFixed(1)} s CPU, ${(wallMs / 1000).toFixed(1)} s wall`);
  assert.ok(cpuMs < 10_000, `took ${cpuMs.toFixed(0)} ms of CPU`);
});

test("a wrong call is a type error there (uploads take a Blob; unknown filters and event types are refused)", {
  timeout: 120_000,
}, async () => {
  await writeFile(
    path.join(project, "wrong.ts"),
    [
      'import { createPropOpsClient, isEvent, type WebhookEvent } from "@propops/client";',
      'const client = createPropOpsClient({ baseUrl: "http://127.0.0.1:1", token: "t" });',
      'await client.uploadPhoto({ job_id: 1, file: "not a file" });',
      "await client.listJobs({ limit: 10, colour: 'red' });",
      "await client.listJobs({ limit: 10, status_id: 1 });",
      "declare const event: WebhookEvent;",
      'isEvent(event, "job.exploded");',
      'if (isEvent(event, "job.created")) console.log(event.data.job_uuid);',
      "",
    ].join("\n"),
  );
  await writeFile(
    path.join(project, "tsconfig.wrong.json"),
    JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { noEmit: true }, files: ["wrong.ts"] }),
  );
  const { text } = typeCheck("tsconfig.wrong.json");
  assert.match(text, /wrong\.ts\(3,\d+\).*TS2322.*'Blob'/);
  assert.match(text, /wrong\.ts\(4,\d+\).*colour/);
  assert.doesNotMatch(text, /wrong\.ts\(5,/);
  // Event types come from the document's webhooks section: an unknown one does not compile.
  assert.match(text, /wrong\.ts\(7,\d+\).*"job\.exploded"/);
  assert.doesNotMatch(text, /wrong\.ts\(8,/);
});

test("it lists, creates, uploads a photo, adds a note, gets a typed error and verifies the job's webhook", {
  timeout: 120_000,
}, async () => {
  assert.ok(api && typecheckMs > 0, "type-checked first");
  const { stdout, stderr } = await exec(process.execPath, ["out/quickstart.js"], {
    cwd: project,
    env: { ...process.env, PROPOPS_URL: api.url, PROPOPS_TOKEN: api.token, PHOTO: "site.jpg", ADDRESS_ID: "9001" },
    timeout: 90_000,
  }).catch((err: { stdout?: string; stderr?: string }) => assert.fail(`${err.stderr ?? err}${api?.logs.tail(40)}`));
  const out = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
  assert.equal(typeof out.listed, "number", stderr);
  assert.match(out.job.job_ref, /^JOB-/);
  assert.equal(out.photo.processing_status, "pending");
  assert.match(out.note.note_uuid, /^[0-9a-f-]{36}$/);
  assert.equal(out.refusal.status, 404);
  assert.equal(out.refusal.code, "NOT_FOUND");
  assert.match(out.refusal.request_id, /\S/);
  assert.deepEqual(out.webhook, { verified: true, type: "job.created", job_uuid: out.job.job_uuid });

  // What the program did is there for anyone to read through the API itself.
  const get = async (p: string) => (await fetch(`${api?.url}${p}`, { headers: { Authorization: `Bearer ${api?.token}` } })).json();
  const photos = JSON.stringify(await get(`/api/jobs/photos?job_id=${out.job.job_id}`));
  assert.ok(photos.includes(out.photo.photo_uuid), photos);
  const notes = (await get(`/api/jobs/case-notes?action=list&job_uuid=${out.job.job_uuid}`)) as {
    data: { uuid: string; message: string }[];
  };
  assert.deepEqual(
    notes.data.map((n) => [n.uuid, n.message]),
    [[out.note.note_uuid, "Contractor booked for Monday."]],
  );
});
