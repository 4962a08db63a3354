/**
 * The e2e harness itself: a port found free can be bound by another process before wrangler dev
 * gets to it (seen under load: "Address already in use", and the proof under load failed). The
 * harness then starts again on new ports instead of failing the suite.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { freePort, startLocalApi } from "../../scripts/lib/local-api.ts";

// Its bound covers a bundle, migrations and two starts on a loaded machine (180 s was hit beside npm run dev).
test("wrangler dev starts on new ports when its first port was taken meanwhile", { timeout: 480_000 }, async () => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
  const address = squatter.address();
  const taken = typeof address === "object" && address ? address.port : 0;
  try {
    const api = await startLocalApi({
      vars: { TRANSCODER_URL: "http://127.0.0.1:9" },
      firstPorts: { web: taken, inspector: await freePort() },
    });
    try {
      assert.notEqual(new URL(api.url).port, String(taken));
      const list = await fetch(`${api.url}/api/jobs/manage?action=list&limit=1`, { headers: { Authorization: `Bearer ${api.token}` } });
      assert.equal(list.status, 200, await list.text());
      assert.ok(
        api.logs.lines.some((l) => l.includes("a port was taken")),
        "the retry is in the log",
      );
    } finally {
      await api.stop();
    }
  } finally {
    squatter.close();
  }
});
