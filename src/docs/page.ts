import type { Context } from "hono";

/**
 * The /docs page: Scalar's standalone bundle from public/docs/scalar.js (copied from its npm
 * package by `npm run build:docs`), configured through a data block, so the page loads nothing but
 * same-origin files and a strict CSP holds. No fonts or telemetry from Scalar's servers.
 */
const CONFIG = {
  withDefaultFonts: false,
  telemetry: false,
  persistAuth: false,
  hideClientButton: false,
  showOperationId: true,
  defaultOpenAllTags: true,
  // Hosted extras (AI agent, MCP generator, developer toolbar) would call Scalar's servers.
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
};

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PropOps Jobs API</title>
</head>
<body>
<script id="api-reference" type="application/json" data-url="/api/openapi.json" data-configuration="${escapeAttr(JSON.stringify(CONFIG))}"></script>
<script src="/docs/scalar.js"></script>
</body>
</html>
`;

/**
 * Scalar's Vue components inject <style> elements, hence 'unsafe-inline' for styles only; scripts,
 * requests (the "try it" client included) and everything else stay on this origin.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function docsPage(c: Context) {
  return c.html(HTML, 200, { "Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache" });
}

function escapeAttr(s: string) {
  return s.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}
