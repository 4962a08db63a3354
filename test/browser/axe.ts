/**
 * axe-core (through @axe-core/playwright) on the page as it is now: the browser suites call it on
 * every page they screenshot, at desktop and phone width. Serious and critical findings fail the
 * test with what and where; minor and moderate ones are left to review.
 */
import assert from "node:assert/strict";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";
import { ROOT } from "./harness.ts";

export const SHOTS = path.join(ROOT, "test-output/browser");
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function axeClean(page: Page, where: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe-core on ${where}`,
  );
}

/** Screenshots at desktop and phone size, each checked by axe-core first. */
export async function shots(page: Page, name: string) {
  for (const [size, viewport] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    await axeClean(page, `${name} (${size})`);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}
