// What the console page scripts share: Debian's headless Chromium through
// playwright-core (no browser is downloaded), a throwaway profile, and a
// check that fails the script with a message.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// Runs `steps(page)` in a fresh browser; a thrown error fails the script
// (exit code 1) with `name` and the message.
export async function withPage(name, steps) {
  const profile = mkdtempSync(join(tmpdir(), "saga-local-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    await steps(page);
  } catch (error) {
    console.error(`${name} browser test failed: ${error.message}`);
    process.exitCode = 1;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// The mark of state `name` in the page's graph (`data-mark`).
export async function markOf(page, name) {
  const node = page.locator(`svg.machine g.node[data-state="${name}"]`);
  expect((await node.count()) === 1, `the graph has no box for ${name}`);
  return node.getAttribute("data-mark");
}
