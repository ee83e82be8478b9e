// Browser test of /admin/carry (issue 13 item 2's page): on a fresh demo whose halls are
// still on their 2024 units (`hoinghi demo --before-carry`, started here), an administrator
// opens the page from the units page, previews the shipped 2024→2025 mapping and sees the
// counts, applies it (a second apply changes nothing), and places one listed district hall
// with the unit picker.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { OUT, PASSWORD, freshPage, launch } from "./helpers.mjs";

const BIN = join(
  process.env.CARGO_TARGET_DIR || fileURLToPath(new URL("../../target", import.meta.url)),
  "debug",
  "hoinghi",
);

let browser;
let server;
let dataDir;
let base;

/** Starts `hoinghi demo --before-carry` on a free port; resolves with its address. */
function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), "hoinghi-carry-"));
  server = spawn(BIN, ["demo", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--before-carry"], {
    stdio: ["ignore", "pipe", "pipe"],
    // HOINGHI_URL (the shared server's address, for the other tests) is no setting of ours.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "HOINGHI_URL")), RUST_LOG: "warn" },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/Hoinghi demo: (http:\/\/[^/\s]+)\//);
      if (m) resolve(m[1]);
    });
    server.stderr.on("data", (chunk) => (out += chunk));
    server.on("exit", (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
}

before(async () => {
  base = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function login(page, username) {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
}

const count = async (page, name) => Number((await page.textContent(`[data-count="${name}"]`)).trim());

test("an administrator previews the carry, applies it and places a listed hall", async () => {
  const page = await freshPage(browser);
  await login(page, "admin");
  await page.goto(`${base}/admin/units`);
  await Promise.all([page.waitForLoadState("load"), page.click("#carry-link")]);
  assert.equal(new URL(page.url()).pathname, "/admin/carry");
  assert.equal(await page.inputValue("#carry-on"), "2025-07-01");
  assert.equal(await page.isChecked("input[name=mapping][value=shipped]"), true);

  // The preview, with the counts the API's dry run gives.
  await Promise.all([page.waitForLoadState("load"), page.click("#carry-form button[type=submit]")]);
  assert.match(await page.textContent("#carry-dry"), /chưa có gì được ghi/);
  const api = await page.evaluate(async () => {
    const r = await fetch("/api/v1/admin/carry/preview?on=2025-07-01&mapping=shipped", { method: "POST" });
    return r.json();
  });
  const plan = api.plan;
  assert.equal(await count(page, "moved"), plan.halls.moved.length);
  assert.equal(await count(page, "kind-whole"), plan.moved_per_kind.whole);
  assert.equal(await count(page, "kind-province"), 1, "the province hall follows its province");
  assert.equal(await count(page, "listed"), 13, "Phú Thọ's 13 district halls are listed, not guessed");
  assert.equal(await count(page, "reason-district"), 13);
  assert.ok((await count(page, "secretariats")) >= 1, "district secretariats listed");
  assert.equal(await page.locator("#carry-review tbody tr").count(), 13);
  await page.screenshot({ path: `${OUT}carry-preview.png`, fullPage: false });

  // Apply; then applying again changes nothing and says so.
  await Promise.all([page.waitForLoadState("load"), page.click("#carry-apply button")]);
  assert.equal(
    (await page.textContent("#carry-applied")).trim(),
    `Đã chuyển: ${plan.halls.moved.length} điểm cầu`,
  );
  await page.goto(`${base}/admin/carry?on=2025-07-01&mapping=shipped`);
  await Promise.all([page.waitForLoadState("load"), page.click("#carry-apply button")]);
  assert.match(await page.textContent("#carry-applied"), /Không có gì thay đổi/);
  assert.equal(await count(page, "already"), plan.halls.moved.length);

  // Place the first listed hall on a unit found with the picker (units valid on 2025-07-01).
  const row = page.locator("#carry-review tbody tr").first();
  const hallId = await row.getAttribute("data-hall");
  const suggested = await row.locator("select[name=unit_id]").inputValue();
  await row.locator("input.unit-pick").fill("nong trang");
  await row.locator("select[name=unit_id] option[data-found]").first().waitFor({ state: "attached" });
  const chosen = await row.locator("select[name=unit_id]").inputValue();
  assert.notEqual(chosen, suggested, "the found unit is chosen over the suggestion");
  const chosenName = await row.locator(`select[name=unit_id] option[value="${chosen}"]`).textContent();
  assert.match(chosenName, /Phường Nông Trang \(07894/);
  await Promise.all([page.waitForLoadState("load"), row.locator("button[type=submit]").click()]);
  assert.match(await page.textContent("#carry-status"), /Đã xếp điểm cầu vào đơn vị mới/);
  assert.equal(await page.locator(`#carry-review tr[data-hall="${hallId}"]`).count(), 0);
  assert.equal(await count(page, "listed"), 12);
  // The hall is now under the chosen unit (as the units API shows it to the administrator).
  const unit = await page.evaluate(async (id) => (await fetch(`/api/v1/units/${id}`)).json(), chosen);
  assert.ok(unit.halls.some((h) => String(h.id) === hallId), JSON.stringify(unit.halls));
  await page.screenshot({ path: `${OUT}carry-placed.png`, fullPage: false });
});

test("an uploaded mapping: broken rows are shown by line and code, then a good one places a hall", async () => {
  const page = await freshPage(browser);
  await login(page, "admin");
  await page.goto(`${base}/admin/carry`);
  await page.check("input[name=mapping][value=upload]");
  const file = (name, text) => ({ name, mimeType: "text/csv", buffer: Buffer.from(text) });
  // 07888 (Phường Dữu Lâu, 2024) is stored; "abc" is no code; 99999 is no 2025 unit.
  await page.setInputFiles("#carry-file", file("broken.csv", "old_code,new_code,part\n07888,07900,whole\nabc,07900,whole\n"));
  await page.click("#carry-form button[type=submit]");
  await page.locator("#carry-problems").waitFor();
  const cells = await page.locator("#carry-problems tbody tr").first().locator("td").allTextContents();
  assert.deepEqual(cells.slice(0, 4), ["3", "old_code", "bad_code", "abc"]);
  assert.match(await page.textContent("#carry-problems"), /không áp dụng/);
  assert.equal(await page.locator("#carry-apply").count(), 0, "nothing to apply");

  await page.setInputFiles("#carry-file", file("unknown.csv", "old_code,new_code,part\n07888,99999,whole\n"));
  await page.click("#carry-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#carry-problems td:nth-child(3)")?.textContent === "unknown_code");
  const unknown = await page.locator("#carry-problems tbody tr").first().locator("td").allTextContents();
  assert.deepEqual(unknown.slice(0, 4), ["2", "new_code", "unknown_code", "99999"]);

  // A sound file: the preview (the halls were carried by the first test), then place a
  // listed hall; the page previews again with the same file.
  await page.setInputFiles("#carry-file", file("good.csv", "old_code,new_code,part\n07888,07900,whole\n"));
  await page.click("#carry-form button[type=submit]");
  await page.locator("#carry-dry").waitFor();
  const listed = await count(page, "listed");
  assert.ok(listed >= 1, "district halls are still listed");
  const row = page.locator("#carry-review tbody tr").first();
  const hallId = await row.getAttribute("data-hall");
  await row.locator("input.unit-pick").fill("van phu");
  await row.locator("select[name=unit_id] option[data-found]").first().waitFor({ state: "attached" });
  await row.locator("button[type=submit]").click();
  await page.waitForFunction((id) => !document.querySelector(`#carry-review tr[data-hall="${id}"]`), hallId);
  assert.match(await page.textContent("#carry-status"), /Đã xếp điểm cầu vào đơn vị mới/);
  assert.equal(await count(page, "listed"), listed - 1);
  assert.equal(await page.isChecked("input[name=mapping][value=upload]"), true, "still the uploaded file");
});
