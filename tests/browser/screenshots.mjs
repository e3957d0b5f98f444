// Makes the README's screenshots (docs/img/*.png) from a real Anthill: a few
// deployments of examples/hello, one of them a failed build.
// Usage: node tests/browser/screenshots.mjs   (after `make`)
import fs from "node:fs";
import path from "node:path";
import { Anthill, SOURCE, TOKEN, launchBrowser, waitLive } from "./harness.mjs";

const out = path.join(SOURCE, "docs/img");
const anthill = new Anthill();
let browser;
try {
  await anthill.start();
  await anthill.finished(anthill.git("rev-parse", "HEAD"));
  fs.appendFileSync(path.join(anthill.origin, "hello.c"), "\n/* faster greetings */\n");
  await anthill.finished(anthill.commit("Faster greetings"));
  fs.appendFileSync(path.join(anthill.origin, "hello.c"), "\nthis does not compile\n");
  await anthill.finished(anthill.commit("Half-done refactor"));
  anthill.git("revert", "--no-edit", "HEAD");
  const good = await anthill.finished(anthill.git("rev-parse", "HEAD"));
  browser = await launchBrowser();
  const page = await browser.context.newPage();
  await page.addInitScript((t) => localStorage.setItem("anthill.token", t), TOKEN);
  fs.mkdirSync(out, { recursive: true });
  const failed = (await anthill.deployments("&status=failed"))[0];
  for (const [target, file] of [["/deployments", "deployments.png"],
                                [`/deployments/${good.id}`, "deployment.png"],
                                ["/projects", "projects.png"]]) {
    await page.goto(anthill.base + target);
    await waitLive(page);
    await page.waitForLoadState("networkidle").catch(() => {});
    await page.waitForTimeout(300);  // a screenshot, not a test: let the last frame paint
    await page.screenshot({ path: path.join(out, file), fullPage: file === "deployment.png" });
    console.log(`wrote ${path.join(out, file)}`);
  }
  await page.goto(`${anthill.base}/deployments/${failed.id}`);
  await waitLive(page);
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(out, "deployment-failed.png") });
  console.log(`wrote ${path.join(out, "deployment-failed.png")}`);
} finally {
  if (browser) await browser.close();
  await anthill.stop();
  anthill.remove();
}
