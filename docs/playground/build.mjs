// npm run playground: builds the Lookahead playground into docs/playground/ (one classic
// script, so that the page also opens from the files, with no server) and serves it on
// 127.0.0.1 under the CSP gradtx must load under. `--build` only builds.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { serve } from "./serve.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The page (index.html, style.css) is written here by hand; its script's sources are in src/. */
const page = join(root, "docs", "playground");
const source = join(page, "src");

/**
 * Builds playground.js (gradtx's build bundled in) into `out`, and copies the page beside it
 * when `out` is another folder.
 */
export async function buildPlayground(out = page) {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(source, "main.mjs")],
    outfile: join(out, "playground.js"),
    bundle: true,
    format: "iife",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    // A script (opened from the files too) has no module URL: compile's default worker script is
    // found through import.meta.url, and the page runs one thread without it, as it asks.
    logOverride: { "empty-import-meta": "silent" },
    absWorkingDir: root,
  });
  if (resolve(out) !== page)
    for (const file of ["index.html", "style.css"]) copyFileSync(join(page, file), join(out, file));
  return out;
}

/** Whether the playground.js built into `out` is the committed one in docs/playground/, byte for byte. */
export function isCommittedBuild(out) {
  return readFileSync(join(out, "playground.js")).equals(readFileSync(join(page, "playground.js")));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildPlayground();
  if (!process.argv.includes("--build")) {
    const { url } = await serve(out, { port: Number(process.env.PORT ?? 8080) });
    console.log(`the Lookahead playground: ${url} (also ${join(out, "index.html")} from the files); Ctrl-C ends it`);
  }
}
