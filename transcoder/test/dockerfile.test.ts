// Static checks on the production Dockerfile (no Docker engine here).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { must } from "./helpers.ts";

const text = readFileSync(fileURLToPath(new URL("../Dockerfile", import.meta.url)), "utf8");
/** Instructions with line continuations joined and comments dropped. */
const instructions = text
  .replace(/\\\r?\n/g, " ")
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const named = (kw: string): string[] => instructions.filter((l) => l.toUpperCase().startsWith(`${kw} `));

describe("Dockerfile", () => {
  it("uses a pinned slim Node 22 base, never latest", () => {
    const from = named("FROM");
    assert.equal(from.length, 1);
    const image = must(must(from[0], "a FROM line").split(/\s+/)[1], "an image in the FROM line");
    assert.match(image, /^node:22\.\d+(\.\d+)?-[a-z]+-slim$/, image);
    assert.doesNotMatch(text, /:latest\b/);
  });

  it("installs ffmpeg with --no-install-recommends and cleans apt lists in the same layer", () => {
    const run = named("RUN").find((r) => /apt-get install/.test(r));
    assert.ok(run, "an apt-get install RUN");
    assert.match(run, /apt-get update/);
    assert.match(run, /apt-get install -y --no-install-recommends ffmpeg/);
    assert.match(run, /rm -rf \/var\/lib\/apt\/lists\/\*/);
  });

  it("runs as a non-root user", () => {
    const users = named("USER");
    assert.ok(users.length > 0, "USER present");
    const lastUser = must(users.at(-1), "a USER line");
    const last = must(lastUser.split(/\s+/)[1], "a user name in the USER line");
    assert.notEqual(last, "root");
    assert.notEqual(last, "0");
    // USER comes before CMD so the server never runs as root
    assert.ok(instructions.indexOf(lastUser) < instructions.indexOf(must(named("CMD")[0], "a CMD line")));
  });

  it("has a HEALTHCHECK against /healthz, listens on 0.0.0.0:8080, starts src/server.ts", () => {
    const hc = named("HEALTHCHECK");
    assert.equal(hc.length, 1);
    assert.match(must(hc[0], "a HEALTHCHECK line"), /\/healthz/);
    assert.match(named("ENV").join(" "), /HOST=0\.0\.0\.0/);
    assert.match(named("ENV").join(" "), /PORT=8080/);
    assert.deepEqual(named("EXPOSE"), ["EXPOSE 8080"]);
    assert.equal(named("CMD")[0], 'CMD ["node", "src/server.ts"]');
  });

  it("copies only the workspace manifests, transcoder/ and the shared media-core package, all existing (build context = repository root)", () => {
    const copies = named("COPY");
    assert.ok(copies.length > 0);
    for (const c of copies) {
      const sources = c
        .split(/\s+/)
        .filter((p) => !p.startsWith("--"))
        .slice(1, -1);
      assert.ok(sources.length > 0, `a source path in ${c}`);
      for (const src of sources) {
        assert.match(src, /^(transcoder\/|packages\/media-core\/|package(-lock)?\.json$)/, c);
        assert.ok(existsSync(fileURLToPath(new URL(`../../${src}`, import.meta.url))), `${src} exists`);
      }
    }
  });

  it("installs the transcoder workspace's dependencies from the root lock file, without dev dependencies", () => {
    assert.ok(named("RUN").some((r) => /npm ci -w transcoder --omit=dev/.test(r)));
    assert.ok(existsSync(fileURLToPath(new URL("../../package-lock.json", import.meta.url))));
  });
});

describe("Dockerfile ships every module the server imports", () => {
  /** Relative imports reachable from src/server.ts, as repo-root-relative paths. */
  function reachable(): string[] {
    const seen = new Set<string>();
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const visit = (url: URL): void => {
      const abs = fileURLToPath(url);
      if (seen.has(abs)) return;
      seen.add(abs);
      if (!existsSync(abs)) return;
      const src = readFileSync(abs, "utf8");
      for (const m of src.matchAll(/^\s*(?:import|export)\s[^"';]*?from\s+["'](\.{1,2}\/[^"']+)["']/gm)) {
        if (/^\s*import\s+type\s/.test(m[0])) continue;
        visit(new URL(must(m[1], `an import path in ${m[0]}`), url));
      }
    };
    visit(new URL("../src/server.ts", import.meta.url));
    return [...seen].map((p) => p.slice(root.length));
  }
  const copied = named("COPY").flatMap((c) =>
    c
      .split(/\s+/)
      .filter((p) => !p.startsWith("--"))
      .slice(1, -1)
      .map((p) => p.replace(/\/$/, "")),
  );
  it("every relative import of src/server.ts is inside a COPY'd path", () => {
    const missing = reachable().filter((f) => !copied.some((c) => f === c || f.startsWith(`${c}/`)));
    assert.deepEqual(missing, []);
  });
});
