// Makes the README's screenshots (docs/img/*.png, 1280x800) from a real
// Anthill: a few deployments of examples/hello, one of them a failed build.
// Usage: node tests/browser/screenshots.mjs   (after `make`; ANTHILL_BINARY
// picks another binary than build/anthill)
import fs from "node:fs";
import path from "node:path";
import { Anthill, SOURCE, TOKEN, launchBrowser, waitLive } from "./harness.mjs";

const out = path.join(SOURCE, "docs/img");
const anthill = new Anthill();
let browser;
let ok = false;

// Waits until the page shows what it is for, then for two frames to be painted.
async function ready(page, selector, check) {
  await waitLive(page);
  await page.locator(selector).first().waitFor({ timeout: 30000 });
  if (check) await page.waitForFunction(check, null, { timeout: 30000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

try {
  await anthill.start();
  await anthill.finished(anthill.git("rev-parse", "HEAD"));
  fs.appendFileSync(path.join(anthill.origin, "hello.c"), "\n/* faster greetings */\n");
  await anthill.finished(anthill.commit("Faster greetings"));
  fs.appendFileSync(path.join(anthill.origin, "hello.c"), "\nthis does not compile\n");
  await anthill.finished(anthill.commit("Half-done refactor"));
  anthill.git("revert", "--no-edit", "HEAD");
  const good = await anthill.finished(anthill.git("rev-parse", "HEAD"));
  const failed = (await anthill.deployments("&status=failed"))[0];
  const count = (await anthill.deployments()).length;

  browser = await launchBrowser();  // 1280x800
  const page = await browser.context.newPage();
  await page.addInitScript((t) => localStorage.setItem("anthill.token", t), TOKEN);
  fs.mkdirSync(out, { recursive: true });
  const shots = [
    ["/deployments", "deployments.png", "#deployments tbody tr[data-id]",
     `document.querySelectorAll("#deployments tbody tr[data-id]").length === ${count}`],
    [`/deployments/${good.id}`, "deployment.png", "svg#timeline rect.bar",
     `document.querySelector("#log").textContent.includes("==> build")`],
    ["/projects", "projects.png", 'article.project[data-project="hello"] code.version',
     `document.querySelectorAll('article.project select.rollback-version option').length > 0`],
    [`/deployments/${failed.id}`, "deployment-failed.png", 'svg#timeline rect.bar[data-status="failed"]',
     `document.querySelector("#log").textContent.includes("error")`],
  ];
  for (const [target, file, selector, check] of shots) {
    await page.goto(anthill.base + target);
    await ready(page, selector, check);
    await page.screenshot({ path: path.join(out, file) });
    console.log(`wrote ${path.join(out, file)}`);
  }
  ok = true;
} finally {
  if (browser) await browser.close();
  await anthill.stop();
  if (!ok) console.error(anthill.logs());
  anthill.remove();
}
