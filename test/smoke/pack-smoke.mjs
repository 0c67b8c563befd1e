// Packs gradtx as npm would publish it and uses the tarball from a fresh consumer project, with
// nothing of this repository around it but gradtx's own dependencies:
// - every source map in the tarball points at files the tarball has;
// - a strict TypeScript project type-checks the type tests of test/types/ against the published
//   declarations, from ESM and from CommonJS, with `skipLibCheck` false and true, with no ndarray
//   or Node type package (so an `@ts-expect-error` there fails if a type decays to `any`);
// - plain Node can `require` and `import` both entry points from the installed tarball.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(root, "package.json"));
const work = mkdtempSync(join(tmpdir(), "gradtx-pack-"));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

try {
  // npm pack, then unpack the tarball as the installed package.
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const [packed] = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", work], root));
  const files = new Set(packed.files.map((f) => f.path));
  const app = join(work, "app");
  const pkg = join(app, "node_modules", "gradtx");
  mkdirSync(pkg, { recursive: true });
  run("tar", ["-xzf", join(work, packed.filename), "-C", pkg, "--strip-components=1"]);

  // Source maps: each one's sources are in the tarball.
  let maps = 0;
  for (const file of files) {
    if (!file.endsWith(".map")) continue;
    maps++;
    const map = JSON.parse(readFileSync(join(pkg, file), "utf8"));
    for (const source of map.sources) {
      const target = relative(pkg, resolve(pkg, dirname(file), map.sourceRoot ?? "", source))
        .split(sep)
        .join("/");
      assert.ok(files.has(target), `${file} points at ${source}, which the tarball leaves out`);
    }
  }
  assert.ok(maps > 50, `only ${maps} source maps`);
  assert.ok(files.has("dist/cjs/package.json"), "the CommonJS build's type marker is packed");

  // gradtx's dependencies (and fast-check, the peer dependency of gradtx/laws), linked in from
  // this repository's install, with theirs: an offline `npm install` of the tarball.
  const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
  const linked = new Set();
  const link = (name) => {
    if (linked.has(name)) return;
    linked.add(name);
    const dir = dirname(require.resolve(`${name}/package.json`));
    const to = join(app, "node_modules", name);
    mkdirSync(dirname(to), { recursive: true });
    symlinkSync(dir, to, "junction");
    const deps = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies ?? {};
    for (const dep of Object.keys(deps)) link(dep);
  };
  for (const dep of [...Object.keys(manifest.dependencies), "fast-check"]) link(dep);
  assert.ok(!existsSync(join(app, "node_modules", "@types")), "no type packages in the consumer");

  // The consumer: an ESM package with the type tests, and a CommonJS corner.
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const types = join(root, "test", "types");
  const tests = readdirSync(types).filter((f) => f.endsWith(".ts"));
  mkdirSync(join(app, "src"));
  for (const f of tests) cpSync(join(types, f), join(app, "src", f));
  writeFileSync(
    join(app, "src", "required.cts"),
    `import gradtx = require("gradtx");
import laws = require("gradtx/laws");
import losses = require("gradtx/losses");
const opt: gradtx.GradientTransformation = gradtx.adam(1e-3);
const check: (options?: { numRuns?: number }) => void = laws.checkLookaheadSync;
const grad: Float32Array = losses.l2Loss(Float32Array.of(1, 2)).grad;
// @ts-expect-error a string is not a pytree
const bad: gradtx.PyTree = { x: "hello" };
export { bad, check, grad, opt };
`,
  );
  const tsc = require.resolve("typescript/bin/tsc");
  for (const skipLibCheck of [false, true]) {
    const config = {
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2022"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: [],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck,
        noEmit: true,
      },
      include: ["src"],
    };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(config, null, 2));
    try {
      run(process.execPath, [tsc, "-p", "tsconfig.json"], app);
    } catch (e) {
      throw new Error(`tsc with skipLibCheck ${skipLibCheck} failed in the consumer:\n${e.stdout}${e.stderr}`, {
        cause: e,
      });
    }
  }

  // Plain Node, from the installed tarball.
  writeFileSync(
    join(app, "main.cjs"),
    `const { adam, GradTxError } = require("gradtx");
const { checkLookaheadSync } = require("gradtx/laws");
const { l2Loss } = require("gradtx/losses");
checkLookaheadSync({ numRuns: 2 });
if (l2Loss(Float64Array.of(2)).value !== 2) throw new Error("gradtx/losses under require");
import("gradtx").then((esm) => {
  const p = Float64Array.of(1, 2);
  const step = (g) => {
    const opt = g.adam(0.1);
    return g.applyUpdates(p, opt.update(p, opt.init(p), p)[0]);
  };
  if (String(step(require("gradtx"))) !== String(step(esm))) throw new Error("the builds differ");
  try { esm.adam(-1); } catch (e) { if (!(e instanceof GradTxError)) throw e; }
  console.log("ok");
});
`,
  );
  writeFileSync(
    join(app, "main.mjs"),
    `import { adam } from "gradtx";\nimport "gradtx/laws";\nimport { huberLoss } from "gradtx/losses";\nadam(1);\nif (huberLoss(Float64Array.of(3)).value !== 2.5) throw new Error("gradtx/losses under import");\nconsole.log("ok");\n`,
  );
  assert.equal(run(process.execPath, ["main.cjs"], app).trim(), "ok");
  assert.equal(run(process.execPath, ["main.mjs"], app).trim(), "ok");
  console.log(
    `pack smoke test ok: ${files.size} files, ${maps} source maps that resolve, the types of ${tests.length} test files check from a strict consumer (skipLibCheck false and true), and Node requires and imports the tarball`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
