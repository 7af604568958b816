// The trace waterfall in headless Chromium: open a completed order's trace
// from its order page and a declined order's directly, check the tree
// (every step's invocation, the queue message, the AWS calls, the failed
// charge of the declined order in red) and the bars, then save a
// screenshot of each.
// Usage: node trace.mjs <base-url> <completed-order-id> <declined-order-id> <screenshot-dir>
import { join } from "node:path";
import { expect, withPage } from "./chromium.mjs";

const [baseUrl, completed, declined, dir] = process.argv.slice(2);
if (!baseUrl || !completed || !declined || !dir) {
  console.error("usage: node trace.mjs <base-url> <completed-order-id> <declined-order-id> <screenshot-dir>");
  process.exit(2);
}

// The rows' span names (without the service tag) and depths, in page order.
async function rows(page) {
  return page.locator("table.wf tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      name: tr.querySelector("td.name").childNodes[0].textContent.trim(),
      depth: Number(tr.dataset.depth),
      failed: tr.classList.contains("failed"),
      left: parseFloat(tr.querySelector(".bar").style.left),
      width: parseFloat(tr.querySelector(".bar").style.width),
    })),
  );
}

function find(all, name) {
  const found = all.filter((row) => row.name === name);
  expect(found.length >= 1, `no span ${name} in the waterfall`);
  return found;
}

await withPage("trace", async (page) => {
  // A completed order: from the order page's Trace link.
  await page.goto(`${baseUrl}/console/order/${completed}`);
  await Promise.all([page.waitForNavigation(), page.locator("#trace-link").click()]);
  expect(page.url() === `${baseUrl}/console/trace/${completed}`, `the trace link led to ${page.url()}`);
  expect((await page.locator("h1").innerText()) === `Trace of order ${completed}`, "wrong title");
  const traceId = await page.locator("#trace-id").innerText();
  expect(/^[0-9a-f]{32}$/.test(traceId), `no trace id: ${traceId}`);
  let all = await rows(page);
  expect(all.length >= 25, `only ${all.length} spans`);
  expect(all[0].name === "Invoke api" && all[0].depth === 0, `the root is ${all[0].name}`);
  // The bars cover the trace's time axis from its first span's start to
  // its last span's end.
  expect(all[0].left < 0.5, `the root starts at ${all[0].left}%`);
  const last = all.reduce((max, row) => Math.max(max, row.left + row.width), 0);
  expect(last > 99.5, `the last span ends at ${last}%`);
  for (const name of ["Invoke reserve", "Invoke charge", "Invoke confirm", "ship message", "SFN.StartExecution", "SFN.SendTaskSuccess"]) {
    const [row] = find(all, name);
    expect(!row.failed, `${name} is marked failed`);
  }
  const [execution] = all.filter((row) => row.name.endsWith(" execution"));
  expect(execution, "no execution span");
  const [ship] = find(all, "ship message");
  expect(ship.depth === execution.depth + 1, "the queue message is not under the execution");
  expect((await page.locator("table.wf tr.failed").count()) === 0, "a completed order has failed spans");
  await page.screenshot({ path: join(dir, "console-trace-completed.png"), fullPage: true });

  // A declined order: the charge's invocation failed (PaymentDeclined),
  // the compensation ran, no shipping message.
  await page.goto(`${baseUrl}/console/trace/${declined}`);
  all = await rows(page);
  const [charge] = find(all, "Invoke charge");
  expect(charge.failed, "the declined charge is not marked failed");
  const error = await page.locator("table.wf tr.failed", { hasText: "Invoke charge" }).first().locator("details").textContent();
  expect(error.includes("PaymentDeclined"), `the failed charge does not say why: ${error}`);
  find(all, "Invoke release");
  expect(all.every((row) => row.name !== "ship message"), "a declined order was shipped");
  await page.screenshot({ path: join(dir, "console-trace-declined.png"), fullPage: true });
});
