/** The package version, written from package.json by scripts/version.mjs: do not edit. */
export const VERSION = "1.0.0";
