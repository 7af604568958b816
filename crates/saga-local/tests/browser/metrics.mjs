// Drives the saga-local console's metrics page in real headless Chromium
// (Debian's /usr/bin/chromium through playwright-core; no browser is
// downloaded), after the caller placed a completed order and one declined
// by its card: waits until the watcher has counted both, follows the
// header's Metrics link, checks the rows, saves a screenshot.
// Usage: node metrics.mjs <base-url> <screenshot.png>
// Exits non-zero, saying why, when the page does not show what it should.
import { expect, withPage } from "./chromium.mjs";

const [baseUrl, screenshot] = process.argv.slice(2);
if (!baseUrl || !screenshot) {
  console.error("usage: node metrics.mjs <base-url> <screenshot.png>");
  process.exit(2);
}

await withPage("metrics", async (page) => {

  // 1. The watcher counts an order when its execution's end event reaches
  //    it, a moment after the execution ends: poll the JSON view (bounded).
  const wanted = (series) =>
    series.some((s) => s.metric === "OrdersCompleted") &&
    series.some((s) => s.metric === "OrdersRejected" && s.dimensions.Reason === "PaymentDeclined");
  let series = [];
  for (let attempt = 0; attempt < 150 && !wanted(series); attempt += 1) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    const response = await page.request.get(`${baseUrl}/local/metrics`);
    expect(response.ok(), `GET /local/metrics answered ${response.status()}`);
    series = (await response.json()).series;
  }
  expect(wanted(series), `the completed and the rejected order were not counted: ${JSON.stringify(series)}`);

  // 2. The header links to the page.
  await page.goto(`${baseUrl}/console`);
  await Promise.all([page.waitForNavigation(), page.locator('header a:text-is("Metrics")').click()]);
  expect(new URL(page.url()).pathname === "/console/metrics", `the Metrics link led to ${page.url()}`);

  // 3. One row per metric and dimension set.
  const row = (metric, dimensions) =>
    page.locator(`tr.metric[data-metric="${metric}"][data-dimensions="${dimensions}"]`);
  const cell = async (metric, dimensions, name) => {
    const found = row(metric, dimensions);
    expect((await found.count()) === 1, `no row for ${metric} ${dimensions}`);
    return (await found.locator(`td.${name}`).innerText()).trim();
  };
  expect(Number(await cell("OrdersPlaced", "(all)", "sum")) >= 2, "fewer than 2 orders placed");
  expect(Number(await cell("OrdersCompleted", "(all)", "sum")) >= 1, "no completed order");
  expect(Number(await cell("OrdersRejected", "Reason=PaymentDeclined", "sum")) >= 1, "no declined order");
  expect(Number(await cell("CompensationsRun", "Compensation=ReleaseInventory", "sum")) >= 1,
    "the declined order's stock release is not counted");
  for (const step of ["reserve", "charge", "confirm", "ship"]) {
    const samples = Number(await cell("StepLatency", `Step=${step}`, "samples"));
    const p50 = Number(await cell("StepLatency", `Step=${step}`, "p50"));
    const p99 = Number(await cell("StepLatency", `Step=${step}`, "p99"));
    expect(samples >= 1 && p50 >= 0 && p99 >= p50, `StepLatency ${step}: ${samples} samples, p50 ${p50}, p99 ${p99}`);
  }
  expect(await cell("OrdersPlaced", "(all)", "p50") === "-", "a count shows a percentile");
  expect(Number(await cell("StepErrors", "ErrorType=PaymentDeclined, Step=charge", "sum")) >= 1,
    "the declined charge is not a step error");
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`metrics: rows seen; screenshot ${screenshot}`);
});
