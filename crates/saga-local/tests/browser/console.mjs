// Drives the saga-local console in real headless Chromium (Debian's
// /usr/bin/chromium through playwright-core; no browser is downloaded):
// list the failed executions, open one, click Redrive, see it succeed, and
// save a screenshot. Usage: node console.mjs <base-url> <execution-name> <screenshot.png>
// Exits non-zero, saying why, when any step does not show what it should.
import { expect, withPage } from "./chromium.mjs";

const [baseUrl, name, screenshot] = process.argv.slice(2);
if (!baseUrl || !name || !screenshot) {
  console.error("usage: node console.mjs <base-url> <execution-name> <screenshot.png>");
  process.exit(2);
}

await withPage("console", async (page) => {

  // 1. The list, filtered to failed executions, shows ours.
  await page.goto(`${baseUrl}/console?status=FAILED`);
  const row = page.locator("tr", { has: page.locator(`a:text-is("${name}")`) });
  expect((await row.count()) === 1, `no FAILED row for ${name} in the console list`);
  expect((await row.locator(".s").innerText()) === "FAILED", "the row's status is not FAILED");

  // 2. The execution, state by state, shows where and why it failed.
  await row.locator(`a:text-is("${name}")`).click();
  await page.waitForSelector("#status");
  expect((await page.locator("#status").innerText()).includes("FAILED"), "the execution page does not say FAILED");
  const failedStep = page.locator("tr.step", { has: page.locator(".s.FAILED") });
  expect((await failedStep.count()) >= 1, "no state is marked FAILED");
  const failedText = await failedStep.first().innerText();
  expect(failedText.includes("ChargePayment") && failedText.includes("InjectedFault"),
    `the failed state does not show ChargePayment and its error: ${failedText}`);

  // 3. Redrive, then (after the execution ends) the page shows it succeeded.
  await Promise.all([page.waitForNavigation(), page.locator("#redrive").click()]);
  expect((await page.locator("#message").innerText()).includes("Redrive started"), "no redrive confirmation");
  const waited = await page.request.get(`${baseUrl}/local/executions/${encodeURIComponent(name)}/wait?timeoutSeconds=60`);
  expect(waited.ok(), `the execution did not end after the redrive: ${waited.status()}`);
  await page.reload();
  const status = await page.locator("#status").innerText();
  expect(status.includes("SUCCEEDED"), `after the redrive the status is ${status}`);
  expect((await page.locator("#redrive").count()) === 0, "a succeeded execution still offers Redrive");
  const steps = await page.locator("tr.step").allInnerTexts();
  expect(steps.some((s) => s.includes("MarkCompleted") && s.includes("SUCCEEDED")), "MarkCompleted did not run");
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`console: list, open, redrive and success seen; screenshot ${screenshot}`);
});
