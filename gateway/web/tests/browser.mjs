// Drive the web app in real headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core. Usage: node tests/browser.mjs <gateway url> <screenshot dir>
// Prints one JSON object with what it saw; exits non-zero on any failed check.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: node tests/browser.mjs <gateway url> <screenshot dir>");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "helio-chromium-"));
// A fresh profile (--user-data-dir) every run, given the way playwright wants it.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1200, height: 800 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
  ],
});
const result = {};
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));

  // Chat: send a message and see the streamed answer.
  await page.goto(`${url}/#/chat`);
  await page.waitForFunction(() => document.querySelector("select[aria-label=model]")?.value);
  result.model = await page.inputValue("select[aria-label=model]");
  await page.fill("input[aria-label=message]", "What is the capital of France?");
  await page.keyboard.press("Enter");
  const assistant = page.locator("li[data-role=assistant]").last();
  // Streaming: the text grows over several updates before it is complete.
  const seen = new Set();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const text = (await assistant.textContent()) ?? "";
    if (text && text !== "…") seen.add(text);
    if (await page.locator("button[type=submit]").count()) break; // Send is back: done
    await page.waitForTimeout(50);
  }
  result.answer = (await assistant.textContent()) ?? "";
  result.partial_states = seen.size;
  await page.screenshot({ path: join(outDir, "chat.png"), fullPage: true });

  // Dashboard: servers and the blocks each covers, live.
  await page.goto(`${url}/#/dashboard`);
  await page.waitForSelector("tr.server", { timeout: 30_000 });
  result.models = {};
  for (const article of await page.locator("article[data-model]").all()) {
    result.models[await article.getAttribute("data-model")] = {
      servers: await article.locator("tr.server td.blocks").allTextContents(),
      energy: await article.locator("tr.server td.energy").allTextContents(),
      energy_source: await article.locator("tr.server td.energy").evaluateAll((tds) => tds.map((td) => td.dataset.source ?? null)),
      headroom: await article.locator("tr.server td.headroom").allTextContents(),
      battery: await article.locator("tr.server td.battery").allTextContents(),
      capacity: await article.locator("tr.server td.capacity").allTextContents(),
      local: await article.locator("tr.server td.local").allTextContents(),
      blocks: await article.locator(".coverage span").count(),
      gap_blocks: await article.locator(".coverage span.gap").count(),
    };
  }
  result.rpm = Number(await page.locator("[data-testid=rpm]").textContent());
  await page.screenshot({ path: join(outDir, "dashboard.png"), fullPage: true });
  result.console_errors = consoleErrors;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
