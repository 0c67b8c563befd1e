// The playground's checks: built afresh (its script; the page is docs/playground/ itself), and the
// committed script the same as that build; served
// under the CSP and opened from the files, it draws what gradtx computes in Node for the same
// settings, before and after its sliders move. Writes a screenshot to dist-browser/.
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildPlayground, isCommittedBuild } from "../../docs/playground/build.mjs";
import { serve } from "../../docs/playground/serve.mjs";
import { compute } from "../../docs/playground/src/compute.mjs";

/** Waits until the page has drawn `n` times, and returns what it drew from. */
async function drawnTrace(page, n) {
  await page.waitForFunction((k) => Number(document.body.dataset.drawn) >= k, n);
  return page.evaluate(() => window.playground);
}

export async function checkPlayground({ visit, check, root, gradtx }) {
  const out = await buildPlayground(join(root, "dist-browser", "playground"));
  // The page in docs/playground/ opens from the files with its committed script: it must be this
  // tree's build, not an older gradtx's.
  await check("playground: the committed playground.js is this tree's build (npm run playground -- --build)", () =>
    assert.ok(isCommittedBuild(out), "docs/playground/playground.js differs from a fresh build"),
  );
  const sameAsNode = (trace, what) =>
    check(`playground: ${what} is what gradtx computes in Node`, () => {
      const want = compute(gradtx, trace.settings);
      assert.deepEqual(trace, want);
      assert.ok(trace.fast.length > 100 && trace.slow.length > 10);
    });

  const { server, url } = await serve(out, { isolated: true });
  try {
    const { page, errors } = await visit(url, () => document.body.dataset.drawn === "1");
    await page.setViewportSize({ width: 1000, height: 940 });
    let trace = await drawnTrace(page, 1);
    await sameAsNode(trace, "the first drawing (the defaults)");
    await page.screenshot({ path: join(root, "dist-browser", "playground.png"), fullPage: true });

    // Moves the sliders as a user does from the keyboard: each press is an input event.
    await page.locator("#syncPeriod").press("ArrowRight");
    await page.locator("#syncPeriod").press("ArrowRight");
    await page.locator("#syncPeriod").press("ArrowRight");
    await page.locator("#innerState").press("ArrowRight");
    await page.locator("#momentum").press("ArrowLeft");
    trace = await drawnTrace(page, 6);
    await check("playground: the sliders moved the settings", () =>
      assert.deepEqual(
        [trace.settings.syncPeriod, trace.settings.innerState, trace.settings.momentum],
        [8, "reset", 0.89],
      ),
    );
    await sameAsNode(trace, "the drawing after moving syncPeriod, innerState and momentum");
    await page.locator("#problem").selectOption("rosenbrock");
    await page.locator("#alpha").press("ArrowLeft");
    await sameAsNode(await drawnTrace(page, 8), "Rosenbrock's drawing, alpha moved");
    await page.locator("#problem").selectOption("noisy");
    await page.locator("#learningRate").press("ArrowLeft");
    await page.locator("#innerState").press("ArrowRight");
    await sameAsNode(await drawnTrace(page, 11), "the noisy quadratic's drawing, interpolating the inner state");
    const violations = await page.evaluate(() => window.violations ?? []);
    await check("playground: no CSP violation, no console error", () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(errors, []);
    });
    await page.close();

    const file = await visit(pathToFileURL(join(out, "index.html")).href, () => document.body.dataset.drawn === "1");
    await sameAsNode(await drawnTrace(file.page, 1), "the page opened from the files");
    await check("playground from the files: no console error", () => assert.deepEqual(file.errors, []));
    await file.page.close();
  } finally {
    server.close();
  }
}
