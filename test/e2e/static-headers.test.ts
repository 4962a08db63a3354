/**
 * Static assets never reach the Worker, so their security headers come from the `_headers` file
 * the build writes (scripts/build-dashboard.ts): the dashboard cannot be framed by another origin
 * (a `<meta>` CSP cannot say frame-ancestors), is never sniffed into another type, and sends no
 * referrer. Checked against wrangler dev, which serves the assets as production does.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type LocalApi, sharedLocalApi } from "../../scripts/lib/local-api.ts";

let api: LocalApi | undefined;
before(
  async () => {
    api = await sharedLocalApi();
  },
  { timeout: 180_000 },
);
after(async () => api?.stop());

for (const path of ["/app/", "/app/index.html", "/app/app.js", "/app/styles.css"]) {
  test(`${path} carries the security headers`, async () => {
    const res = await fetch(`${api?.url}${path}`, { redirect: "manual" });
    await res.arrayBuffer();
    const target = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
    const final = target ? await fetch(new URL(target, api?.url)) : res;
    assert.equal(final.status, 200, `${path} → ${final.status}`);
    const csp = final.headers.get("content-security-policy") ?? "";
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /default-src 'self'/, "the dashboard's own policy, not only frame-ancestors");
    assert.doesNotMatch(csp, /,/, "one policy, not two joined");
    assert.equal(final.headers.get("x-content-type-options"), "nosniff");
    assert.equal(final.headers.get("x-frame-options"), "DENY");
    assert.equal(final.headers.get("referrer-policy"), "no-referrer");
    assert.match(final.headers.get("strict-transport-security") ?? "", /max-age=\d+/);
  });
}
