// Browser tests of a sudden meeting's life: "start now", the join page's states, cancelling.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, OUT, freshPage, launch, login, textOf } from "./helpers.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a sudden meeting started now is ready to join, and refused once cancelled", async () => {
  const page = await freshPage(browser);
  await login(page, "vp.tinh");
  await page.goto(`${BASE}/meetings/new`);
  await page.fill("#title", "Họp đột xuất ứng phó mưa lũ");
  await page.check("#start-now");
  assert.equal(await page.inputValue("#kind"), "sudden", "start now makes it a sudden meeting");
  await page.fill("#duration", "60");
  // Today's Phú Thọ has no districts: the province hall alone.
  await page.check("#level-province");
  assert.equal(await textOf(page, "invite-count", "1"), "1");
  await page.click("#submit");
  // Should another meeting hold these halls right now, schedule over it with a reason.
  await page.waitForFunction(
    () => /\/meetings\/\d+$/.test(location.pathname) || !document.getElementById("conflicts")?.hidden,
    null,
    { timeout: 15_000 },
  );
  if (!/\/meetings\/\d+$/.test(new URL(page.url()).pathname)) {
    await page.fill("#override-reason", "Mưa lũ khẩn cấp");
    await Promise.all([page.waitForURL(/\/meetings\/\d+$/), page.click("#override-submit")]);
  }
  assert.equal(await textOf(page, "invited-count", "1"), "1");
  const meetingUrl = page.url();

  // Staff see each hall's join link; the province hall's opens the meeting room, which
  // joins and says so in large text.
  await page.click("details.group summary");
  const link = await page.locator("details.group a").first().getAttribute("href");
  assert.match(link, /^\/j\/[0-9a-f]{64}$/);
  await page.goto(`${BASE}${link}`);
  assert.equal(await textOf(page, "join-state", "Đã kết nối"), "Đã kết nối");
  await page.screenshot({ path: `${OUT}join-ready.png`, fullPage: true });

  // Cancelling needs a reason; then the link says the meeting was cancelled.
  await page.goto(meetingUrl);
  await page.fill("#c-reason", "Đã xử lý xong tại chỗ");
  await Promise.all([page.waitForLoadState("load"), page.click('form[action$="/cancel"] button')]);
  assert.equal((await page.textContent(".state-line")).trim(), "Cuộc họp đã bị hủy");
  await page.goto(`${BASE}${link}`);
  assert.equal((await page.textContent("#join-state")).trim(), "Cuộc họp đã bị hủy");

  // The list shows it struck out.
  await page.goto(`${BASE}/`);
  const row = page.locator("tr.cancelled", { hasText: "Họp đột xuất ứng phó mưa lũ" });
  assert.equal(await row.locator("s").first().textContent(), "Họp đột xuất ứng phó mưa lũ");
  await page.context().close();
});

test("an unknown join link says so, in English when asked", async () => {
  const page = await freshPage(browser);
  const response = await page.goto(`${BASE}/j/${"ab".repeat(32)}?lang=en`);
  assert.equal(response.status(), 404);
  assert.equal((await page.textContent("#join-state")).trim(), "This join link is not valid");
  await page.context().close();
});
