// Browser tests of the scheduling pages: Debian's chromium, driven by playwright-core,
// against a demo server at HOINGHI_URL (scripts/browser-test starts one).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, OUT, freshPage as newPage, launch, login, textOf } from "./helpers.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
const freshPage = () => newPage(browser);

/** `YYYY-MM-DDT14:00` in Việt Nam time, `days` from today: clear of the demo's meetings. */
function vietnamDateTime(days, hour) {
  const vn = new Date(Date.now() + 7 * 3600 * 1000 + days * 24 * 3600 * 1000);
  return `${vn.toISOString().slice(0, 10)}T${String(hour).padStart(2, "0")}:00`;
}

async function openScheduleForm(page) {
  await login(page, "vp.tinh");
  assert.equal(new URL(page.url()).pathname, "/", "a secretariat lands on the meetings list");
  await page.goto(`${BASE}/meetings/new`);
  // The root defaults to the secretariat's own unit; choose it again through the search
  // (typed without diacritics) so the picker is exercised too.
  await page.fill("#root-search", "phu tho");
  const pick = page.locator("#root-results button", { hasText: "Tỉnh Phú Thọ" });
  await pick.first().click();
  assert.equal((await page.textContent("#root-name")).trim(), "Tỉnh Phú Thọ");
}

// The demo is on today's map: from 1 July 2025 Phú Thọ has two tiers, its 221 halls of 2024
// carried onto its communes and 82 added, so the province and its 148 communes have 303 halls.
test("a province secretariat schedules a meeting for the whole province: 303 halls", async () => {
  const page = await freshPage();
  await openScheduleForm(page);
  assert.equal(await textOf(page, "invite-count", "0"), "0", "no level chosen yet");
  for (const level of ["province", "commune"]) await page.check(`#level-${level}`);
  assert.equal(await textOf(page, "invite-count", "303"), "303", "live count before saving");

  await page.fill("#title", "Hội nghị triển khai nhiệm vụ chuyển đổi số toàn tỉnh");
  await page.fill("#description", "Các huyện, xã báo cáo tiến độ; thống nhất kế hoạch quý tới.");
  await page.selectOption("#kind", "routine");
  await page.fill("#starts_at", vietnamDateTime(21, 14));
  await page.fill("#duration", "120");
  await page.screenshot({ path: `${OUT}schedule-form.png`, fullPage: true });

  await Promise.all([page.waitForURL(/\/meetings\/\d+$/, { timeout: 15_000 }), page.click("#submit")]);
  assert.equal(await textOf(page, "invited-count", "303"), "303", "halls invited on the meeting page");
  const heading = (await page.textContent("h1")).trim();
  assert.equal(heading, "Hội nghị triển khai nhiệm vụ chuyển đổi số toàn tỉnh");
  await page.screenshot({ path: `${OUT}meeting-221.png`, fullPage: true });

  // The new meeting is listed on the start page with its count.
  await page.goto(`${BASE}/`);
  const row = page.locator("tr", { hasText: "chuyển đổi số toàn tỉnh" });
  assert.equal((await row.locator("td.num").textContent()).trim(), "303");
  await page.context().close();
});

test("a wrong password shows the Vietnamese error", async () => {
  const page = await freshPage();
  await login(page, "vp.tinh", "mat-khau-sai");
  assert.equal(new URL(page.url()).pathname, "/login");
  const error = (await page.textContent("#login-error")).trim();
  assert.equal(error, "Sai tên đăng nhập hoặc mật khẩu");
  await page.context().close();
});

test("the province level alone invites the province hall", async () => {
  const page = await freshPage();
  await openScheduleForm(page);
  await page.check("#level-province");
  assert.equal(await textOf(page, "invite-count", "1"), "1");
  // Adding the communes and taking them away again goes back to 1.
  await page.check("#level-commune");
  assert.equal(await textOf(page, "invite-count", "303"), "303");
  await page.uncheck("#level-commune");
  assert.equal(await textOf(page, "invite-count", "1"), "1");
  await page.context().close();
});
