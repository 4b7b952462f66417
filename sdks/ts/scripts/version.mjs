// Writes src/version.ts from package.json's "version", the one place the SDK's version is set.
// Runs before every build and on `npm version`; test/version.test.ts checks the two agree.
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const { version } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
const file = new URL("src/version.ts", root);
const text =
  "/** The package version, written from package.json by scripts/version.mjs: do not edit. */\n" +
  `export const VERSION = ${JSON.stringify(version)};\n`;
let current = "";
try {
  current = readFileSync(file, "utf8");
} catch {
  // first run
}
if (current !== text) writeFileSync(file, text);
