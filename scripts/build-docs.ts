/**
 * `npm run build:docs`: copies Scalar's standalone bundle (pinned by package-lock.json) into
 * public/docs/, served as a Workers static asset beside the Worker's /docs page (src/docs/page.ts),
 * so the docs render with no third-party request. public/ is generated: only .assetsignore is committed.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
// The package exports no ./package.json; its folder is fixed by npm (package-lock.json pins the version).
const pkgDir = path.join(ROOT, "node_modules/@scalar/api-reference");
const { version } = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { version: string };
const bundle = readFileSync(path.join(pkgDir, "dist/browser/standalone.js"), "utf8")
  // The 17 MB source map is not shipped: drop the reference so browsers do not ask for it.
  .replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");

const out = path.join(ROOT, "public/docs");
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, "scalar.js"), bundle);
console.log(`docs: @scalar/api-reference ${version} → public/docs/scalar.js (${(bundle.length / 1e6).toFixed(1)} MB)`);
