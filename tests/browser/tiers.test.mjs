// Browser test of the tier picker on /meetings/new (issue 13 item 4): the levels offered
// follow the meeting's date — no district after 2025-07-01 — with the counts the API gives.
// Needs the demo with both trees (2024 valid to 2025-06-30, 2025 from 2025-07-01).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, OUT, PASSWORD, api, freshPage as newPage, launch, login } from "./helpers.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** `YYYY-MM-DD` in Việt Nam time, `days` from today. */
function vietnamDate(days) {
  return new Date(Date.now() + 7 * 3600 * 1000 + days * 24 * 3600 * 1000).toISOString().slice(0, 10);
}
const dmy = (d) => `${d.slice(8, 10)}/${d.slice(5, 7)}/${d.slice(0, 4)}`;

/** Waits until the picker has loaded the levels of `date` (its note names the date). */
async function tiersLoaded(page, date) {
  await page.waitForFunction((d) => document.getElementById("tiers-note")?.textContent.includes(d), dmy(date), {
    timeout: 10_000,
  });
}

test("the tier picker offers no district level for a date after 2025-07-01", async () => {
  const { token } = await api("/auth/login", { method: "POST", body: { username: "vp.tinh", password: PASSWORD } });
  const date = vietnamDate(21);
  // Today's Phú Thọ, found through the API by name and code on that date.
  const found = await api(`/units/search?q=phu%20tho&date=${date}&limit=20`, { token });
  const province = found.units.find((u) => u.code === "25" && u.level === "province");
  assert.ok(province, `Phú Thọ on ${date}: ${JSON.stringify(found.units)}`);
  const { levels } = await api(`/units/${province.id}/levels?date=${date}`, { token });
  const byLevel = Object.fromEntries(levels.map((t) => [t.level, t]));
  assert.equal(byLevel.district, undefined, "the API offers no district after the reform");

  const page = await newPage(browser);
  await login(page, "vp.tinh");
  await page.goto(`${BASE}/meetings/new`);
  await page.fill("#starts_at", `${date}T14:00`);
  await page.fill("#root-search", "phu tho");
  await page.locator("#root-results button", { hasText: "Tỉnh Phú Thọ" }).first().click();
  await tiersLoaded(page, date);
  assert.equal((await page.inputValue("#root-id")), String(province.id), "the root is today's Phú Thọ");

  assert.equal(await page.isVisible("#tier-district"), false, "no district level offered");
  assert.equal(await page.isVisible("#tier-province"), true);
  assert.equal(await page.isVisible("#tier-commune"), true);
  const communes = byLevel.commune;
  assert.equal(
    (await page.textContent("#tier-count-commune")).trim(),
    `(${communes.units} đơn vị · ${communes.halls} điểm cầu)`,
  );

  // Choosing both levels: the count before saving is the API's preview for that date.
  await page.check("#level-province");
  await page.check("#level-commune");
  const host = Number(await page.inputValue("#host"));
  const preview = await api("/scope/preview", {
    token,
    method: "POST",
    body: {
      scope: { root_unit_id: province.id, levels: ["province", "commune"] },
      host_hall_id: host,
      starts_at: `${date}T14:00`,
    },
  });
  await page.waitForFunction(
    (n) => document.getElementById("invite-count")?.textContent.trim() === String(n),
    preview.total,
    { timeout: 10_000 },
  );
  assert.ok(!(await page.textContent("#invite-levels")).includes("Huyện"), "no district halls counted");
  await page.screenshot({ path: `${OUT}tiers-2025.png`, fullPage: true });

  // Before the reform the same picker offers the three tiers again (root: Phú Thọ of 2024).
  await page.fill("#starts_at", "2025-03-03T08:00");
  await tiersLoaded(page, "2025-03-03");
  assert.equal(await page.isVisible("#tier-district"), true, "districts existed then");
  await page.check("#level-district");
  await page.fill("#starts_at", `${date}T14:00`);
  await tiersLoaded(page, date);
  assert.equal(await page.isVisible("#tier-district"), false);
  assert.equal(await page.isChecked("#level-district"), false, "a hidden level is not sent");
  await page.context().close();
});
