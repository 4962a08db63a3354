import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

// Test-only secrets: fixed so failures reproduce; production secrets come from `wrangler secret put`.
export const TEST_ENCRYPTION_KEYS = JSON.stringify({
  active: "k2",
  keys: {
    k1: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    k2: "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
  },
});

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
            SIGNING_SECRET: "test-signing-secret-0123456789abcdef",
            // Nothing listens on port 9: wrangler.toml's 8788 is where `npm run dev` runs its media
            // service, and a suite that expects the service unreachable must not reach that one
            // (seen: npm test beside npm run dev). Tests that want a service pass their own URL.
            TRANSCODER_URL: "http://127.0.0.1:9",
            // Likewise for the Worker's own URL (8787 under npm run dev), which signed media URLs name.
            PUBLIC_URL: "http://127.0.0.1:9",
            // Webhook targets on loopback, no DNS-over-HTTPS lookups (src/webhooks/target.ts).
            WEBHOOKS_ALLOW_LOOPBACK: "true",
            // Answers carry X-D1-Round-Trips / X-D1-Rows-Read (src/db/session.ts) for the budgets.
            D1_METRICS: "on",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      // End-to-end suites run under Node's test runner (node --test), against real processes.
      exclude: [...configDefaults.exclude, "test/e2e/**", "test/browser/**"],
      setupFiles: ["./test/support/setup.ts"],
      // The real transcoder as a process for the run (its URL reaches tests through inject()).
      globalSetup: ["./test/support/transcoder-global-setup.ts"],
      // The Worker's per-request access log (src/http/log.ts) would drown the report; errors still show.
      onConsoleLog: (log: string) => !log.startsWith('{"level":"info","event":"request"'),
      // Generous: a limit only decides how long a hung test takes to fail; on a loaded 2-core
      // machine (npm test beside npm run dev) a healthy test in workerd took longer than 30 s.
      testTimeout: 90_000,
      hookTimeout: 90_000,
    },
  };
});
