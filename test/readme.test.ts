/** The README's training loop is docs/examples/training-loop.ts, which the type-check compiles. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("README", () => {
  it("starts with the two commands a newcomer pastes", () => {
    const commands = read("README.md")
      .match(/```sh\n([\s\S]*?)```/)![1]!
      .trim()
      .split("\n");
    expect(commands.map((line) => line.split("#")[0]!.trim())).toEqual(["npm ci && npm start", "npm ci && npm test"]);
  });

  it("shows, as its training loop, exactly the example file the type-check compiles", () => {
    const block = read("README.md").match(/## A training loop\n\n```ts\n([\s\S]*?)```/)![1];
    expect(block).toBe(read("docs/examples/training-loop.ts"));
  });

  it("shows, as its fast loop, exactly the example file the type-check compiles", () => {
    const block = read("README.md").match(/## Going fast\n\n[\s\S]*?```ts\n([\s\S]*?)```/)![1];
    expect(block).toBe(read("docs/examples/fast-loop.ts"));
  });

  it("docs/extra-args.md shows exactly the example file npm test runs", () => {
    const block = read("docs/extra-args.md").match(/gradtx's own test suite:\n\n```ts\n([\s\S]*?)```/)![1];
    expect(block).toBe(read("docs/examples/extra-args.test.ts"));
  });

  it("docs/extra-args.md shows exactly the lbfgs example file npm test runs", () => {
    const block = read("docs/extra-args.md").match(/gradtx's test\nsuite too:\n\n```ts\n([\s\S]*?)```/)![1];
    expect(block).toBe(read("docs/examples/lbfgs.test.ts"));
  });

  it("keeps CI running exactly the README's test command", () => {
    expect(read(".ci/run")).toContain("npm ci && npm test");
  });
});
