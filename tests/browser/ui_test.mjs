// The web UI in a real browser (Debian's Chromium through playwright-core)
// against a real Anthill deploying a real git repository.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { Anthill, TOKEN, launchBrowser, waitFor, waitLive } from "./harness.mjs";

const XSS_ACTOR = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';

describe("web UI", () => {
  const anthill = new Anthill();
  let browser;
  let first;  // the first deployment
  let failed = false;  // any step or test failed: print anthill's logs at the end

  // A test whose failure is remembered (node:test's own exit code is not set
  // yet when a before hook failed).
  const check = (name, fn) => test(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  before(async () => {
    try {
      await anthill.start();
      first = await anthill.finished(anthill.git("rev-parse", "HEAD"));
      assert.equal(first.status, "succeeded", JSON.stringify(first));
      browser = await launchBrowser();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  after(async () => {
    try {
      if (browser) await browser.close();
    } finally {
      await anthill.stop();
      if (failed || process.exitCode || (anthill.result && anthill.result.code !== 0)) {
        console.error(anthill.logs());
      }
      anthill.remove();
    }
    assert.deepEqual(anthill.result, { code: 0, signal: null }, "anthill stopped cleanly");
    assert.deepEqual(browser ? browser.errors : [], [], "no uncaught errors in the pages");
  });

  check("the list shows the deployment", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${anthill.base}/deployments`);
    const row = page.locator(`#deployments tbody tr[data-id="${first.id}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "succeeded");
    const text = await row.innerText();
    assert.match(text, /succeeded/);  // the word, not only a colour
    assert.match(text, /hello/);
    assert.match(text, new RegExp(first.to_version));
    assert.match(text, /poll/);
    assert.equal(await row.locator(".stepbar span").count(), first.steps.length);
    // The header names the machine, from the event stream's hello.
    await page.locator("#machine", { hasText: "on browser-machine" }).waitFor();
    await page.close();
  });

  check("a new push appears live, without a reload, and advances to succeeded", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${anthill.base}/deployments`);
    await waitLive(page);
    await page.evaluate(() => { window.__sameDocument = true; });
    const sha = anthill.commit("pushed while the page is open");
    const row = page.locator(`#deployments tbody tr:has(code[title="${sha}"])`);
    await row.waitFor({ timeout: 60000 });
    await page.waitForFunction((s) => document.querySelector(`#deployments tbody tr:has(code[title="${s}"])`)
                                        ?.dataset.status === "succeeded", sha, { timeout: 60000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page did not reload");
    // Newest first: the new row is on top.
    const topId = await page.locator("#deployments tbody tr").first().getAttribute("data-id");
    const api = await anthill.finished(sha);
    assert.equal(Number(topId), api.id);
    await page.close();
  });

  check("filters live in the URL and a link restores them", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${anthill.base}/deployments`);
    await page.locator("#deployments tbody tr[data-id]").first().waitFor();
    await page.selectOption('#filters select[name="status"]', "failed");
    await page.waitForURL(/status=failed/);
    await page.locator("#deployments tbody td.empty").waitFor();
    await page.goto(`${anthill.base}/deployments?project=hello&status=succeeded`);
    await page.locator("#deployments tbody tr[data-id]").first().waitFor();
    assert.equal(await page.locator('#filters select[name="status"]').inputValue(), "succeeded");
    assert.equal(await page.locator('#filters select[name="project"]').inputValue(), "hello");
    const statuses = await page.locator("#deployments tbody tr[data-id]").evaluateAll(
      (rows) => rows.map((r) => r.dataset.status));
    assert.ok(statuses.length >= 2 && statuses.every((s) => s === "succeeded"), String(statuses));
    await page.close();
  });

  check("the detail page draws one bar per step and shows the log", async () => {
    const page = await browser.context.newPage();
    const d = (await anthill.api(`/api/v1/deployments/${first.id}`)).body;
    await page.goto(`${anthill.base}/deployments/${d.id}`);
    await page.locator("svg#timeline rect.bar").first().waitFor();
    assert.equal(await page.locator("svg#timeline rect.bar").count(), d.steps.length);
    const names = await page.locator("svg#timeline rect.bar").evaluateAll((bars) => bars.map((b) => b.dataset.step));
    assert.deepEqual(names, d.steps.map((s) => s.name));
    assert.equal(await page.locator("#steps tbody tr").count(), d.steps.length);
    // The first build compiled hello.c: its compiler line is in the log.
    await page.waitForFunction(() => document.querySelector("#log").textContent.includes("==> build: make"));
    assert.match(await page.locator("#log").innerText(), /cc .*hello\.c/);
    // The project's first deployment: no previous one, the next one linked.
    assert.equal(await page.locator("a#previous").count(), 0);
    assert.equal(await page.locator("a#next").getAttribute("href"), `/deployments/${d.next_id}`);
    await page.close();
  });

  check("a failed build shows a red bar and its error", async () => {
    const page = await browser.context.newPage();
    fs.appendFileSync(`${anthill.origin}/hello.c`, "\nthis does not compile\n");
    const sha = anthill.commit("break the build");
    try {
      const broken = await anthill.finished(sha);
      assert.equal(broken.status, "failed", JSON.stringify(broken));
      await page.goto(`${anthill.base}/deployments/${broken.id}`);
      const bar = page.locator('svg#timeline rect.bar[data-step="build"]');
      await bar.waitFor();
      assert.equal(await bar.getAttribute("data-status"), "failed");
      const fill = await bar.evaluate((b) => getComputedStyle(b).fill);
      assert.match(fill, /rgb\((207, 34, 46|248, 81, 73)\)/, `the failed bar is red, not ${fill}`);
      assert.match(await page.locator("#steps").innerText(), /build failed \(exit 2\)/);
    } finally {
      // Put the source back for the next tests, whatever happened here.
      anthill.git("revert", "--no-edit", "HEAD");
      await anthill.finished(anthill.git("rev-parse", "HEAD"));
      await page.close();
    }
  });

  check("repository-controlled text with <script> is shown as text", async () => {
    const res = await anthill.api("/api/v1/projects/hello/deploy", {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ actor: XSS_ACTOR }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.deployment;
    await waitFor(async () => (await anthill.api(`/api/v1/deployments/${id}`)).body.finished_at, `deployment ${id}`);
    const page = await browser.context.newPage();
    for (const path of ["/deployments", `/deployments/${id}`]) {
      await page.goto(anthill.base + path);
      const actor = page.locator(".actor", { hasText: "<script>" }).first();
      await actor.waitFor();
      assert.equal(await actor.textContent(), XSS_ACTOR);
      assert.equal(await page.evaluate(() => window.__xss), undefined, `no script ran on ${path}`);
      assert.equal(await page.locator("main script, main img").count(), 0, `no element was made on ${path}`);
      assert.equal(await page.evaluate(() => [...document.querySelectorAll("script, img")]
        .filter((e) => e.textContent.includes("__xss") || e.getAttribute("onerror")).length), 0,
                   `no <script> or <img onerror> with the actor's text anywhere on ${path}`);
    }
    await page.close();
  });

  check("Roll back from /projects is refused without the token and works with it", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${anthill.base}/projects`);
    const card = page.locator('article.project[data-project="hello"]');
    await card.waitFor();
    const target = first.to_version;
    if ((await anthill.api("/api/v1/projects")).body.projects[0].version === target) {
      // The tests before did not move on from the first version (one failed?): push one.
      const pushed = await anthill.finished(anthill.commit("a version to roll back from"));
      assert.equal(pushed.status, "succeeded", JSON.stringify(pushed));
    }
    const before = await anthill.deployments();
    const select = card.locator("select.rollback-version");
    await page.waitForFunction((v) => [...document.querySelectorAll(
      'article.project[data-project="hello"] select.rollback-version option')].some((o) => o.value === v),
                               target, { timeout: 30000 });
    await select.selectOption(target);

    // No token saved: the server says 401 and the card says why.
    await card.locator("button.rollback").click();
    await page.waitForFunction(() => /token/i.test(document.querySelector('article.project[data-project="hello"] [role=status]')?.textContent ?? ""));
    assert.match(await card.locator("[role=status]").innerText(), /Refused.*token/i);
    assert.equal((await anthill.deployments()).length, before.length, "no deployment was made");

    // With the token: a rollback deployment that ends with the old version running.
    await page.fill("#token", TOKEN);
    await page.click('#token-form button[type="submit"]');
    assert.equal(await page.evaluate(() => localStorage.getItem("anthill.token")), TOKEN);
    assert.ok(!page.url().includes(TOKEN), "the token never goes into a URL");
    await card.locator("select.rollback-version").selectOption(target);
    await card.locator("button.rollback").click();
    const link = card.locator("[role=status] a");
    await link.waitFor();
    const id = Number((await link.getAttribute("href")).split("/").pop());
    const done = await waitFor(async () => {
      const d = (await anthill.api(`/api/v1/deployments/${id}`)).body;
      return d.finished_at && d;
    }, `rollback deployment ${id}`);
    assert.equal(done.trigger, "rollback");
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    assert.equal(done.to_version, target);
    // The card follows by itself.
    await page.waitForFunction((v) => document.querySelector('article.project[data-project="hello"] .version')?.textContent === v,
                               target, { timeout: 30000 });
    await page.close();
  });

  check("a project card follows its program: stopped, started, and the events that say so", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${anthill.base}/projects`);
    await waitLive(page);
    const card = page.locator('article.project[data-project="hello"]');
    await card.waitFor();
    const auth = { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" };
    const stop = await anthill.api("/api/v1/projects/hello/stop", { method: "POST", headers: auth, body: "{}" });
    assert.equal(stop.status, 202, JSON.stringify(stop.body));
    // No reload: the stream tells the card.
    await page.waitForFunction(() => document.querySelector('article.project[data-project="hello"]')?.dataset.state === "stopped",
                               null, { timeout: 30000 });
    const start = await anthill.api("/api/v1/projects/hello/start", { method: "POST", headers: auth, body: "{}" });
    assert.equal(start.status, 202, JSON.stringify(start.body));
    await page.waitForFunction(() => ["running", "healthy"].includes(
      document.querySelector('article.project[data-project="hello"]')?.dataset.state), null, { timeout: 30000 });
    await card.locator("details.recent summary").click();
    await page.waitForFunction(() => {
      const kinds = [...document.querySelectorAll('article.project[data-project="hello"] ol.events li')]
        .map((li) => li.dataset.kind);
      return kinds.includes("stopped") && kinds.includes("started");
    }, null, { timeout: 30000 });
    await page.close();
  });

  check("unknown pages get a 404 that helps", async () => {
    const page = await browser.context.newPage();
    const res = await page.goto(`${anthill.base}/deployment/7`);
    assert.equal(res.status(), 404);
    assert.match(await page.locator("main").innerText(), /\/deployments\/<number>/);
    const missing = await page.goto(`${anthill.base}/deployments/999999`);
    assert.equal(missing.status(), 200);  // the page exists; the deployment does not
    await page.locator("#notice:not([hidden])").waitFor();
    assert.match(await page.locator("#notice").innerText(), /No deployment 999999/);
    await page.close();
  });
});
