// The execution page's graph in headless Chromium: for a completed order and
// a declined one, open the execution from the console list and check which
// states and edges the graph marks, the durations, the legend and the links,
// then save a screenshot of each.
// Usage: node graph.mjs <base-url> <completed-order-id> <declined-order-id> <screenshot-dir>
import { join } from "node:path";
import { expect, markOf, withPage } from "./chromium.mjs";

const [baseUrl, completed, declined, dir] = process.argv.slice(2);
if (!baseUrl || !completed || !declined || !dir) {
  console.error("usage: node graph.mjs <base-url> <completed-order-id> <declined-order-id> <screenshot-dir>");
  process.exit(2);
}

const DURATION = /\d+(\.\d)? (ms|s)|\d+ min \d+ s/;

async function openExecution(page, name) {
  await page.goto(`${baseUrl}/console`);
  await Promise.all([page.waitForNavigation(), page.locator(`a:text-is("${name}")`).click()]);
  await page.waitForSelector("svg.machine");
  expect((await page.locator("#status").innerText()).includes("SUCCEEDED"), `${name} did not succeed`);
}

async function expectMarks(page, expected) {
  for (const [state, mark] of Object.entries(expected)) {
    const actual = await markOf(page, state);
    expect(actual === mark, `${state} is marked ${actual}, expected ${mark}`);
  }
}

async function expectTaken(page, from, to, catchEdge) {
  const kind = catchEdge ? ".catch" : ":not(.catch)";
  const edge = page.locator(`svg.machine g.edge.taken${kind}[data-from="${from}"][data-to="${to}"]`);
  expect((await edge.count()) === 1, `the edge ${from} -> ${to} is not marked taken`);
}

await withPage("graph", async (page) => {
  // A completed order: the happy path, each box with its duration.
  await openExecution(page, completed);
  await expectMarks(page, {
    Start: "succeeded", ReserveInventory: "succeeded", ChargePayment: "succeeded",
    ShipOrder: "succeeded", MarkCompleted: "succeeded", End: "succeeded",
    RefundPayment: "not-visited", ReleaseInventory: "not-visited", RejectOrder: "not-visited",
  });
  await expectTaken(page, "ShipOrder", "MarkCompleted", false);
  expect((await page.locator("svg.machine g.edge.taken.catch").count()) === 0, "a completed order took a Catch");
  const ship = await page.locator('svg.machine g.node[data-state="ShipOrder"] text.detail').textContent();
  expect(DURATION.test(ship), `ShipOrder's box shows no duration: ${ship}`);
  const durations = await page.locator("tr.step td.duration").allInnerTexts();
  expect(durations.length === 8 && durations.every((d) => DURATION.test(d)),
    `the states table lacks durations: ${durations}`);
  expect((await page.locator(".legend li").count()) >= 6, "no legend");
  const box = await page.locator("svg.machine").boundingBox();
  expect(box && box.width > 500 && box.height > 600, `the graph is drawn ${JSON.stringify(box)}`);
  const trace = await page.locator("#trace-link").getAttribute("href");
  expect(trace === `/console/trace/${completed}`, `the trace link is ${trace}`);
  await page.screenshot({ path: join(dir, "console-graph-completed.png"), fullPage: true });

  // A declined payment: the error is caught and the saga compensates.
  await openExecution(page, declined);
  await expectMarks(page, {
    ReserveInventory: "succeeded", MarkReserved: "succeeded", ChargePayment: "caught",
    ReleaseInventory: "compensating", RejectOrder: "compensating", End: "succeeded",
    MarkPaid: "not-visited", ShipOrder: "not-visited", RefundPayment: "not-visited",
  });
  await expectTaken(page, "ChargePayment", "ReleaseInventory", true);
  await expectTaken(page, "ReleaseInventory", "RejectOrder", false);
  const title = await page.locator('svg.machine g.edge.taken.catch[data-from="ChargePayment"] title').textContent();
  expect(title.includes("PaymentDeclined"), `the catch edge does not name its errors: ${title}`);
  await page.screenshot({ path: join(dir, "console-graph-declined.png"), fullPage: true });
  console.log(`graph: completed and declined executions marked as expected; screenshots in ${dir}`);
});
