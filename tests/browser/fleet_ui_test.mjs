// The fleet's web UI in a real browser (Debian's Chromium through
// playwright-core) against a real fleet on loopback: PostgreSQL 15, an
// orchestrator and three `anthill agent` processes, rolling examples/hello
// out batch by batch (fleet_harness.mjs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Fleet } from "./fleet_harness.mjs";
import { launchBrowser, waitFor, waitLive } from "./harness.mjs";

const AGENTS = [
  { name: "web-1", labels: ["web", "zone-a"] },
  { name: "web-2", labels: ["web", "zone-b"] },
  { name: "web-3", labels: ["web", "zone-c"] },
];
const NAMES = AGENTS.map((a) => a.name);
// One machine per batch, so that a rollout has three batches to show.
const ROLLOUT = '{ batch = 1, min_healthy = "200ms", pause = "0s", on_failure = "rollback", agent_timeout = "30s" }';
const WAIT = { timeout: 60000 };
// A window too short for the third machine's row on /machines.
const SHORT = { width: 1280, height: 220 };

// A deployment's steps by the machine that did them, as the API lists them.
function stepsByMachine(d) {
  const out = new Map();
  for (const s of d.steps) {
    const m = s.machine || d.machine;
    if (!out.has(m)) out.set(m, []);
    out.get(m).push(s);
  }
  return out;
}

// The rollout grid as the page shows it: batches, their cells, each cell's words.
async function readGrid(page) {
  return page.evaluate(() => [...document.querySelectorAll("#rollout > li.batch")].map((b) => ({
    batch: Number(b.dataset.batch),
    head: b.querySelector(".batch-head").innerText,
    cells: [...b.querySelectorAll("li.cell")].map((c) => ({
      machine: c.dataset.machine,
      status: c.dataset.status,
      badge: c.querySelector(".badge").textContent,
      href: c.querySelector("a.name").getAttribute("href"),
      versions: c.querySelector(".versions")?.textContent ?? "",
      error: c.querySelector(".error.reason")?.textContent ?? "",
      failedHere: c.querySelector(".failed-here")?.textContent ?? "",
      note: c.querySelector(":scope > .muted.small:not(.versions)")?.textContent ?? "",
    })),
  })));
}

// Waits until every cell of the page's grid is in `status` and the
// deployment's own badge says `deployment`.
async function waitGrid(page, status, deployment) {
  await page.waitForFunction(([want, names, final]) => {
    const cells = [...document.querySelectorAll("#rollout li.cell")];
    return !document.getElementById("rollout-section").hidden &&
      cells.length === names.length && cells.every((c) => want[c.dataset.machine] === c.dataset.status) &&
      document.querySelector("#title .badge")?.dataset.status === final;
  }, [typeof status === "string" ? Object.fromEntries(NAMES.map((n) => [n, status])) : status, NAMES, deployment],
  WAIT);
}

// Records every status each rollout cell is drawn with (the grid is redrawn
// whole, so a MutationObserver on #rollout sees each state the page showed).
async function recordCells(page) {
  await page.evaluate(() => {
    window.__cellsSeen = {};
    const note = () => {
      for (const c of document.querySelectorAll("#rollout li.cell")) {
        const seen = (window.__cellsSeen[c.dataset.machine] ||= []);
        if (seen[seen.length - 1] !== c.dataset.status) seen.push(c.dataset.status);
      }
    };
    note();
    new MutationObserver(note).observe(document.getElementById("rollout"), { childList: true, subtree: true });
  });
}

// Asserts that /machines#machine-NAME, opened in a window too short for
// every row, shows that machine's row although it lies beyond the first screen.
async function assertLinkedRowShown(page, name) {
  await page.locator(`#machine-${name} code.version`).waitFor(WAIT);
  const where = await page.evaluate((id) => {
    const tr = document.getElementById(id);
    const r = tr.getBoundingClientRect();
    return { hash: location.hash, top: r.top, bottom: r.bottom, below: r.bottom + scrollY > innerHeight, height: innerHeight };
  }, `machine-${name}`);
  assert.equal(where.hash, `#machine-${name}`);
  assert.ok(where.below, `the window is short enough for the check: ${JSON.stringify(where)}`);
  await page.waitForFunction((id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    return r.top >= 0 && r.bottom <= innerHeight;
  }, `machine-${name}`, { timeout: 10000 }).catch(async () => {
    assert.fail(`the linked row is out of sight: ${JSON.stringify(await page.evaluate((id) => {
      const r = document.getElementById(id).getBoundingClientRect();
      return { scrollY, top: r.top, bottom: r.bottom, innerHeight };
    }, `machine-${name}`))}`);
  });
}

// The version each machine's row on /machines shows for hello.
async function shownVersions(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#machines tbody tr[data-machine]")]
    .map((tr) => [tr.dataset.machine, tr.querySelector('li[data-project="hello"] code.version')?.textContent ?? null])));
}

describe("fleet web UI", () => {
  const fleet = new Fleet({ agents: AGENTS, rollout: ROLLOUT });
  let browser;
  let first;   // the first rollout, to every machine
  let failed = false;  // any step or test failed: print the logs at the end
  const consoleErrors = [];  // console.error of our pages (a handler that threw is caught and logged there)

  const check = (name, fn) => test(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  async function open(path) {
    const page = await browser.context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${page.url()}: ${m.text()}`);
    });
    await page.goto(fleet.base + path);
    return page;
  }

  before(async () => {
    try {
      await fleet.start();
      // Committed once every agent answers: the first rollout reaches all three.
      const sha = fleet.commit("first version");
      await fleet.notify(sha);
      first = await fleet.finished(sha);
      assert.equal(first.status, "succeeded", JSON.stringify(first));
      assert.deepEqual(first.machines.map((m) => [m.machine, m.batch, m.status]),
                       [["web-1", 1, "succeeded"], ["web-2", 2, "succeeded"], ["web-3", 3, "succeeded"]]);
      await fleet.allRun(first.to_version);
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
      await fleet.stop();
      if (failed || process.exitCode) console.error(fleet.logs());
      fleet.remove();
    }
  });

  check("/machines lists every agent: name, labels, the version it runs and its health", async () => {
    const page = await open("/machines");
    await page.waitForFunction((n) => document.querySelectorAll("#machines tbody tr[data-machine]").length === n &&
                                      document.querySelector("#machines code.version"), NAMES.length, WAIT);
    const api = await fleet.machines();
    assert.deepEqual(api.map((m) => m.name), NAMES);
    const rows = await page.locator("#machines tbody tr[data-machine]").evaluateAll((trs) => trs.map((tr) => tr.dataset.machine));
    assert.deepEqual(rows, NAMES, "one row per agent, in the API's order");
    for (const m of api) {
      const p = m.projects.find((x) => x.project === "hello");
      assert.equal(p.version, first.to_version, JSON.stringify(m));
      const row = page.locator(`#machine-${m.name}`);  // the anchor a rollout's cell links to
      assert.equal(await row.getAttribute("data-machine"), m.name);
      assert.match(await row.locator("th").innerText(), new RegExp(`^${m.name}\\b`));
      // Online: it long-polls.
      assert.equal(await row.getAttribute("data-state"), "online");
      assert.equal(await row.locator('td[data-label="State"] .badge').innerText(), "online");
      assert.deepEqual(await row.locator('td[data-label="Labels"] code.label').allInnerTexts(), m.labels);
      assert.deepEqual(m.labels, AGENTS.find((a) => a.name === m.name).labels);
      const item = row.locator('li[data-project="hello"]');
      assert.equal(await item.locator("code.version").innerText(), p.version);
      assert.equal(await item.locator("code.version").getAttribute("title"), p.commit);
      assert.equal(p.commit, first.to_commit);
      assert.equal(await item.getAttribute("data-health"), "healthy");
      assert.equal(await item.locator('.badge[data-status="healthy"]').innerText(), "healthy");
      assert.equal(await item.locator('.badge[data-status="converged"]').innerText(), "converged");
      assert.match(await item.innerText(), new RegExp(`pid ${p.pid}\\b`));
    }
    assert.equal(await page.locator("#summary").innerText(), "3 machines: 3 online");
    // An address naming one machine shows its row, even one beyond the first screen.
    await page.setViewportSize(SHORT);
    await page.goto(`${fleet.base}/machines#machine-web-3`);
    await assertLinkedRowShown(page, "web-3");
    await page.close();
  });

  check("a rollout's page shows its batches by machines, each in words, and the steps by machine", async () => {
    const page = await open(`/deployments/${first.id}`);
    await waitGrid(page, "succeeded", "succeeded");
    const grid = await readGrid(page);
    // batch = 1: three batches of one machine each, in the API's order.
    assert.deepEqual(grid.map((b) => b.batch), [1, 2, 3]);
    assert.deepEqual(grid.map((b) => b.head), ["Batch 1\n1 succeeded", "Batch 2\n1 succeeded", "Batch 3\n1 succeeded"]);
    for (const [i, b] of grid.entries()) {
      const m = first.machines[i];
      assert.equal(b.cells.length, 1);
      assert.deepEqual(b.cells[0], {
        machine: m.machine, status: "succeeded", badge: "succeeded", href: `/machines#machine-${m.machine}`,
        versions: `—→${first.to_version}`, error: "", failedHere: "", note: "",
      });
    }
    assert.equal(await page.locator("#rollout-summary").innerText(), "3 machines in 3 batches: 3 succeeded");
    assert.match(await page.locator("#facts").innerText(), /Orchestrator\s+orchestrator/);

    // The steps, one group per machine: the orchestrator (its own builder) first, then the agents by batch.
    const byMachine = stepsByMachine(first);
    assert.deepEqual([...byMachine.keys()].sort(), ["orchestrator", ...NAMES]);
    const groups = await page.locator("#steps tbody[data-machine]").evaluateAll((bodies) => bodies.map((b) => ({
      machine: b.dataset.machine,
      head: b.querySelector("tr.group").innerText,
      steps: [...b.querySelectorAll("tr[data-step]")].map((tr) => [tr.dataset.step, tr.querySelector(".badge").textContent]),
    })));
    assert.deepEqual(groups.map((g) => g.machine), ["orchestrator", ...NAMES]);
    assert.deepEqual(groups.map((g) => g.head),
                     ["orchestrator · orchestrator", "web-1 · agent, batch 1", "web-2 · agent, batch 2", "web-3 · agent, batch 3"]);
    for (const g of groups) {
      assert.deepEqual(g.steps, byMachine.get(g.machine).map((s) => [s.name, s.status]), g.machine);
    }
    assert.deepEqual(groups[0].steps.map(([name]) => name), ["fetch", "build", "test", "release", "upload"]);
    for (const g of groups.slice(1)) {
      assert.deepEqual(g.steps, [["download", "succeeded"], ["start", "succeeded"], ["healthcheck", "succeeded"]], g.machine);
    }
    // One bar per step on the timeline, an agent's labelled with its machine.
    assert.equal(await page.locator("svg#timeline rect.bar").count(), first.steps.length);
    assert.equal(await page.locator('svg#timeline rect.bar[data-machine="web-2"]').count(), byMachine.get("web-2").length);

    // A cell's link goes to that machine's row on /machines, in sight.
    await page.setViewportSize(SHORT);
    await page.locator('#rollout li.cell[data-machine="web-3"] a.name').click();
    await page.waitForURL(/\/machines#machine-web-3$/);
    await assertLinkedRowShown(page, "web-3");
    assert.equal(await page.locator("#machine-web-3 code.version").innerText(), first.to_version);
    await page.close();
  });

  check("a push rolls out live: the grid advances to succeeded and /machines follows, without a reload", async (t) => {
    const machinesPage = await open("/machines");
    await waitLive(machinesPage);
    await machinesPage.waitForFunction((n) => document.querySelectorAll("#machines code.version").length === n,
                                       NAMES.length, WAIT);
    await machinesPage.evaluate(() => { window.__sameDocument = true; });
    assert.deepEqual(await shownVersions(machinesPage), Object.fromEntries(NAMES.map((n) => [n, first.to_version])));

    const list = await open("/deployments");
    await waitLive(list);
    await list.evaluate(() => { window.__sameDocument = true; });
    fleet.holdBuilds();  // the deployment waits in its build until its page is open
    let page;
    let sha;
    try {
      sha = fleet.commit("second version");
      // The list shows the new deployment live; its link opens its page.
      const row = list.locator(`#deployments tbody tr:has(code[title="${sha}"])`);
      await row.waitFor(WAIT);
      assert.equal(await list.evaluate(() => window.__sameDocument), true, "the list did not reload");
      const id = Number(await row.getAttribute("data-id"));
      await row.locator(`a[href="/deployments/${id}"]`).click();
      await list.waitForURL(new RegExp(`/deployments/${id}$`));
      page = list;
      await waitLive(page);
      await page.waitForFunction(() => document.querySelector("#title .badge")?.dataset.status === "running", null, WAIT);
      await page.evaluate(() => { window.__sameDocument = true; });
      // Still building: no machine has a part yet.
      assert.equal(await page.locator("#rollout-section").isHidden(), true);
      await recordCells(page);
    } finally {
      fleet.releaseBuilds();
    }
    const second = await fleet.finished(sha);
    assert.equal(second.status, "succeeded", JSON.stringify(second));
    await waitGrid(page, "succeeded", "succeeded");
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the deployment page did not reload");
    const grid = await readGrid(page);
    assert.deepEqual(grid.flatMap((b) => b.cells.map((c) => [b.batch, c.machine, c.badge, c.versions])),
                     NAMES.map((n, i) => [i + 1, n, "succeeded", `${first.to_version}→${second.to_version}`]));
    // Drawn live from nothing: each cell appeared, and the last batch's was
    // seen waiting its turn (fetching, fetched or switching) before it succeeded.
    const seen = await page.evaluate(() => window.__cellsSeen);
    t.diagnostic(`cells as drawn: ${JSON.stringify(seen)}`);
    assert.deepEqual(Object.keys(seen).sort(), NAMES, JSON.stringify(seen));
    for (const n of NAMES) assert.equal(seen[n].at(-1), "succeeded", JSON.stringify(seen));
    assert.ok(seen["web-3"].length >= 2, `web-3 was only ever shown as ${JSON.stringify(seen["web-3"])}`);
    assert.equal(await page.locator("#rollout-summary").innerText(), "3 machines in 3 batches: 3 succeeded");
    const groups = await page.locator("#steps tbody[data-machine]").evaluateAll((bodies) => bodies.map((b) => b.dataset.machine));
    assert.deepEqual(groups, ["orchestrator", ...NAMES]);

    // /machines, open all along, shows the new version on every machine.
    await machinesPage.waitForFunction(([names, v]) => names.every((n) => {
      const li = document.querySelector(`#machine-${n} li[data-project="hello"]`);
      return li?.querySelector("code.version")?.textContent === v && li.dataset.converged === "true" &&
        li.dataset.health === "healthy";
    }), [NAMES, second.to_version], WAIT);
    assert.equal(await machinesPage.evaluate(() => window.__sameDocument), true, "/machines did not reload");
    const api = await fleet.machines();
    assert.deepEqual(api.map((m) => m.projects[0].version), NAMES.map(() => second.to_version));
    assert.deepEqual(await shownVersions(machinesPage), Object.fromEntries(NAMES.map((n) => [n, second.to_version])));
    await machinesPage.close();
    await page.close();
  });

  check("a release failing on one machine: the rollout stops there and the switched machines go back", async (t) => {
    // What runs everywhere now (the push above, unless that test failed).
    const good = (await fleet.deployments("&status=succeeded"))[0];
    await fleet.allRun(good.to_version);
    fleet.holdBuilds();
    fleet.failOn("web-2");  // start.sh exits at once on web-2 only
    let page;
    let bad;
    try {
      bad = fleet.commit("breaks on web-2");
      const d = await waitFor(() => fleet.deploymentOf(bad), "the failing commit's deployment");
      page = await open(`/deployments/${d.id}`);
      await waitLive(page);
      await page.waitForFunction(() => document.querySelector("#title .badge")?.dataset.status === "running", null, WAIT);
      await page.evaluate(() => { window.__sameDocument = true; });
      await recordCells(page);
    } finally {
      fleet.releaseBuilds();
      fleet.failOn();
    }
    const d = await fleet.finished(bad);
    assert.equal(d.status, "rolled_back", JSON.stringify(d));
    const rows = Object.fromEntries(d.machines.map((m) => [m.machine, m]));
    assert.deepEqual(d.machines.map((m) => m.status), ["rolled back", "rolled back", "skipped"], JSON.stringify(d.machines));
    await waitGrid(page, { "web-1": "rolled back", "web-2": "rolled back", "web-3": "skipped" }, "rolled_back");
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page did not reload");
    assert.equal(await page.locator("#title .badge").innerText(), "rolled back");
    assert.match(await page.locator("#facts").innerText(), /Error\s+web-2: exited during health check .*broken on web-2/);
    assert.equal(await page.locator("#rollout-summary").innerText(), "3 machines in 3 batches: 2 rolled back, 1 skipped");

    const cells = Object.fromEntries((await readGrid(page)).flatMap((b) => b.cells).map((c) => [c.machine, c]));
    // web-1 switched, then went back when web-2 failed: in words, no error of its own.
    assert.equal(cells["web-1"].badge, "rolled back");
    assert.equal(cells["web-1"].error, "");
    assert.equal(cells["web-1"].failedHere, "");
    // web-2 failed its health check: the cell says why, as an error.
    assert.equal(cells["web-2"].badge, "rolled back");
    assert.equal(cells["web-2"].failedHere, "failed here", "the machine that failed is told apart");
    assert.equal(cells["web-2"].error, rows["web-2"].error);
    assert.match(cells["web-2"].error, /exited during health check \(exit 3\).*broken on web-2/);
    const red = await page.locator('#rollout li.cell[data-machine="web-2"] .error.reason').evaluate((e) => getComputedStyle(e).color);
    assert.match(red, /rgb\((207, 34, 46|248, 81, 73)\)/, `the error is red, not ${red}`);
    // web-3 was never switched: skipped, with the reason as a note (not an error).
    assert.equal(cells["web-3"].badge, "skipped");
    assert.equal(cells["web-3"].error, "");
    assert.equal(cells["web-3"].note, "the rollout stopped at batch 2 of 3");
    for (const n of NAMES) assert.equal(cells[n].versions, `${good.to_version}→${d.to_version}`, n);
    // Seen live: web-2's cell was drawn before it ended.
    const seen = await page.evaluate(() => window.__cellsSeen);
    t.diagnostic(`cells as drawn: ${JSON.stringify(seen)}`);
    assert.ok(seen["web-2"]?.length >= 2, JSON.stringify(seen));

    // The steps say which machine failed, and how, in words.
    const web2 = page.locator('#steps tbody[data-machine="web-2"]');
    const failedStep = web2.locator('tr[data-step="healthcheck"]');
    assert.equal(await failedStep.getAttribute("data-status"), "failed");
    assert.equal(await failedStep.locator(".badge").innerText(), "failed");
    assert.match(await failedStep.locator("td.error").innerText(), /broken on web-2/);
    assert.equal(await web2.locator('tr[data-step="rollback"] .badge').innerText(), "succeeded");
    assert.equal(await page.locator('#steps tbody[data-machine="web-3"] tr[data-step]').count(),
                 d.steps.filter((s) => s.machine === "web-3").length);
    assert.deepEqual(await page.locator('#steps tbody[data-machine="web-3"] tr[data-step]').evaluateAll(
      (trs) => trs.map((tr) => tr.dataset.step)), ["download"]);
    await page.close();

    // Every machine runs the version before again, and /machines says so.
    await fleet.allRun(good.to_version);
    const machines = await open("/machines");
    await machines.waitForFunction(([names, v]) => names.every(
      (n) => document.querySelector(`#machine-${n} li[data-project="hello"] code.version`)?.textContent === v),
                                   [NAMES, good.to_version], WAIT);
    await machines.close();
  });

  check("the processes stop cleanly, and no page had an uncaught error", async () => {
    await browser.close();
    const errors = browser.errors;
    browser = null;
    await fleet.stop();
    assert.deepEqual(fleet.results, Object.fromEntries([...NAMES, "orchestrator"].map((n) => [n, { code: 0, signal: null }])),
                     "the agents and the orchestrator exited 0 on SIGTERM");
    assert.deepEqual(errors, [], "no uncaught errors in the pages");
    assert.deepEqual(consoleErrors, [], "nothing logged as an error in the pages' consoles");
  });
});
