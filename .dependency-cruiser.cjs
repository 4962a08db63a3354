/**
 * The layering as a checked rule (issue 19), run by `npm run check:layers` and in `npm test`:
 * no import circles anywhere (type-only imports count: a type cycle is still a design cycle), and
 * the domain kernel (src/domain) imports no infrastructure, no channel and no use case.
 * The env/clock rule (no env.MEDIA, env.MEDIA_QUEUE, env.EMAIL, new Date() outside
 * src/platform/services.ts) is text, not imports: scripts/check-layers.ts.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules that import each other (also through types) cannot be read, tested or moved on their own.",
      from: {},
      to: { circular: true },
    },
    {
      name: "domain-is-a-kernel",
      severity: "error",
      comment: "src/domain holds rules only: media, email, HTTP, use cases (src/jobs) and the platform call it, never the reverse.",
      from: { path: "^src/domain/" },
      to: { path: "^src/(media|email|http|jobs|platform)/" },
    },
  ],
  options: {
    includeOnly: "^(src|transcoder/src|dashboard/src|packages/[^/]+/src)/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
    exclude: { path: "(^|/)node_modules/" },
  },
};
