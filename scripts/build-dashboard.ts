/**
 * `npm run build:dashboard`: bundles dashboard/src (plain TypeScript, no framework) with esbuild
 * into public/app/, beside its index.html and stylesheet. Served by the Worker's static assets at /app/.
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const out = path.join(root, "public/app");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [path.join(root, "dashboard/src/main.ts")],
  outfile: path.join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
});
for (const file of ["index.html", "styles.css"]) copyFileSync(path.join(root, "dashboard", file), path.join(out, file));
const size = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`dashboard built into public/app/ (${(size / 1024).toFixed(1)} KB with source map)`);
