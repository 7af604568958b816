// The order page in headless Chromium: open a completed order from the
// console list and a declined one from its execution page, check its
// execution, its links and its records in every table, then save a
// screenshot of each.
// Usage: node order.mjs <base-url> <completed-order-id> <declined-order-id> <screenshot-dir>
import { join } from "node:path";
import { expect, markOf, withPage } from "./chromium.mjs";

const [baseUrl, completed, declined, dir] = process.argv.slice(2);
if (!baseUrl || !completed || !declined || !dir) {
  console.error("usage: node order.mjs <base-url> <completed-order-id> <declined-order-id> <screenshot-dir>");
  process.exit(2);
}

// The top-level attribute `name` of the record `kind` (`order`, `payment`...).
async function attribute(page, kind, name) {
  const cell = page.locator(`#record-${kind} > table > tbody > tr[data-attribute="${name}"] > td`);
  expect((await cell.count()) === 1, `the ${kind} record has no ${name}`);
  return cell.innerText();
}

async function expectRecords(page, expected) {
  for (const [kind, attributes] of Object.entries(expected)) {
    if (attributes === null) {
      const none = await page.locator(`#record-${kind} .none`).innerText();
      expect(none === "none", `the ${kind} record should be none: ${none}`);
      continue;
    }
    for (const [name, value] of Object.entries(attributes)) {
      const actual = await attribute(page, kind, name);
      expect(actual === value, `${kind}.${name} is ${actual}, expected ${value}`);
    }
  }
}

await withPage("order", async (page) => {
  // A completed order, from its row in the console list.
  await page.goto(`${baseUrl}/console`);
  const row = page.locator("tr", { has: page.locator(`a:text-is("${completed}")`) });
  await Promise.all([page.waitForNavigation(), row.locator("a.order-link").click()]);
  expect(page.url() === `${baseUrl}/console/order/${completed}`, `the list's link led to ${page.url()}`);
  expect((await page.locator("#status").innerText()).includes("SUCCEEDED"), "the execution is not SUCCEEDED");
  await expectRecords(page, {
    order: { orderId: completed, status: "COMPLETED" },
    reservation: { status: "CONFIRMED" },
    payment: { orderId: completed, status: "CAPTURED" },
    shipment: { orderId: completed },
  });
  const timeline = await page.locator('#record-order tr[data-attribute="timeline"]').innerText();
  expect(timeline.includes("MarkCompleted") || timeline.includes("COMPLETED"), `no timeline: ${timeline}`);
  expect((await markOf(page, "ShipOrder")) === "succeeded", "the order's graph does not mark ShipOrder");
  const trace = await page.locator("#trace-link").getAttribute("href");
  expect(trace === `/console/trace/${completed}`, `the trace link is ${trace}`);
  await page.screenshot({ path: join(dir, "console-order-completed.png"), fullPage: true });
  // Its execution link leads to the execution's page.
  await Promise.all([page.waitForNavigation(), page.locator("#execution-link").click()]);
  expect((await page.locator("h1").innerText()) === `Execution ${completed}`, "the execution link is wrong");

  // A declined order, from its execution page's link: no money kept, no shipment.
  await page.goto(`${baseUrl}/console`);
  await Promise.all([page.waitForNavigation(), page.locator(`a:text-is("${declined}")`).click()]);
  await Promise.all([page.waitForNavigation(), page.locator("#order-link").click()]);
  expect((await page.locator("h1").innerText()) === `Order ${declined}`, "the order link is wrong");
  await expectRecords(page, {
    order: { status: "REJECTED", reason: "PaymentDeclined" },
    reservation: { status: "RELEASED" },
    payment: { status: "DECLINED" },
    shipment: null,
  });
  expect((await markOf(page, "ReleaseInventory")) === "compensating", "ReleaseInventory is not compensating");
  await page.screenshot({ path: join(dir, "console-order-declined.png"), fullPage: true });

  // An order nobody placed: 404, with every record "none".
  const missing = await page.goto(`${baseUrl}/console/order/no-such-order`);
  expect(missing.status() === 404, `an unknown order answers ${missing.status()}`);
  expect((await page.locator(".record .none").count()) === 4, "an unknown order shows records");
  console.log(`order: completed and declined orders show their records; screenshots in ${dir}`);
});
