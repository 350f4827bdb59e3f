/**
 * Writes the git revision into a bundle made by `deno bundle` (its first line sets
 * oci/build.ts BUILD_REVISION_GLOBAL), so that `runsc --version` of the bundle, and of a binary
 * compiled from it, names the revision it was built from.
 *
 * Usage: deno run -A tools/stamp_bundle.ts dist/runsc.js
 *
 * @module
 */

import { BUILD_REVISION_GLOBAL } from "../oci/build.ts";

const [file] = Deno.args;
if (!file) {
  console.error("usage: stamp_bundle.ts <bundle.js>");
  Deno.exit(2);
}
const git = new Deno.Command("git", {
  args: ["-C", import.meta.dirname!, "rev-parse", "--short=12", "HEAD"],
  stderr: "null",
}).outputSync();
let rev = git.success ? new TextDecoder().decode(git.stdout).trim() : "";
if (rev) {
  const dirty = new Deno.Command("git", {
    args: ["-C", import.meta.dirname!, "status", "--porcelain", "--untracked-files=no"],
    stderr: "null",
  }).outputSync();
  if (new TextDecoder().decode(dirty.stdout).trim()) rev += "-dirty";
}
const text = Deno.readTextFileSync(file);
const stamp = `globalThis.${BUILD_REVISION_GLOBAL} = ${JSON.stringify(rev)};\n`;
Deno.writeTextFileSync(file, stamp + text);
