import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SDK_VERSION } from "../src/index.js";
import { VERSION } from "../src/version.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

describe("version", () => {
  it("is package.json's version, on the wire as ts/<version>", () => {
    expect(VERSION).toBe(pkg.version);
    expect(SDK_VERSION).toBe(`ts/${pkg.version}`);
  });
});
