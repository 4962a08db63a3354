import { describe, expect, it } from "vitest";
import { CSRF_SKEW_SECONDS, CSRF_TTL_SECONDS, mintCsrfToken, verifyCsrfToken } from "../../../src/auth/csrf";

const SECRET = "unit-test-secret";
const NOW = Date.parse("2026-12-02T08:00:00Z");

/** A token minted by a clock `aheadMs` in the future: its expiry lies `aheadMs` past the usual lifetime. */
const mintedAhead = async (aheadMs: number) => (await mintCsrfToken(SECRET, 7, NOW + aheadMs)).token;

describe("CSRF tokens: lifetime", () => {
  it("accepts a fresh token and one minted by a clock a little ahead (skew allowance)", async () => {
    expect(await verifyCsrfToken(SECRET, 7, await mintedAhead(0), NOW)).toBe("ok");
    expect(await verifyCsrfToken(SECRET, 7, await mintedAhead(CSRF_SKEW_SECONDS * 1000), NOW)).toBe("ok");
  });

  it.each([
    ["past the skew allowance", CSRF_SKEW_SECONDS * 1000 + 1000],
    ["a day", 86_400_000],
    ["ten years", 10 * 365 * 86_400_000],
  ])("refuses a validly signed token whose expiry is %s beyond the issue lifetime", async (_name, ahead) => {
    expect(await verifyCsrfToken(SECRET, 7, await mintedAhead(ahead), NOW)).toBe("too_long");
  });

  it("still refuses expired, foreign and forged tokens as before", async () => {
    const token = await mintedAhead(0);
    expect(await verifyCsrfToken(SECRET, 7, token, NOW + CSRF_TTL_SECONDS * 1000)).toBe("expired");
    expect(await verifyCsrfToken(SECRET, 8, token, NOW)).toBe("invalid");
    expect(await verifyCsrfToken("another-secret", 7, token, NOW)).toBe("invalid");
    // A forged far expiry fails on its signature first: it learns nothing about the cap.
    const [, sig] = token.split(".");
    expect(await verifyCsrfToken(SECRET, 7, `${Math.floor(NOW / 1000) + 10 * 365 * 86_400}.${sig}`, NOW)).toBe("invalid");
  });

  it("counts an empty or blank token as missing", async () => {
    for (const blank of [undefined, null, "", "   ", "\t"]) expect(await verifyCsrfToken(SECRET, 7, blank, NOW)).toBe("missing");
  });
});
