/**
 * Which build of runsc is running, for `runsc --version`: from source (`deno run main.ts`), the
 * one-file bundle (`deno task bundle`, dist/runsc.js) or a `deno compile` binary (`deno task
 * build`), and the git revision it was made from when that is known.
 *
 * The bundle and the compiled binary carry their revision in a first line that
 * tools/stamp_bundle.ts writes (BUILD_REVISION_GLOBAL); from source it is asked of git.
 *
 * @module
 */

import { dirname } from "../path.ts";
import { mainScript, runningFromSource } from "./reexec.ts";

/** How this program was built. */
export type BuildKind = "source" | "bundle" | "compiled";

/** The global that a stamped bundle sets to its git revision. */
export const BUILD_REVISION_GLOBAL = "__runscRevision";

/** The kind of build that is running. */
export function buildKind(): BuildKind {
  if (!runningFromSource()) return "compiled";
  return mainScript().endsWith(".js") ? "bundle" : "source";
}

/** The git revision of this build (short), or null when it is not known. */
export function buildRevision(): string | null {
  const stamped = (globalThis as Record<string, unknown>)[BUILD_REVISION_GLOBAL];
  if (typeof stamped === "string" && stamped) return stamped;
  if (buildKind() !== "source") return null;
  try {
    const r = new Deno.Command("git", {
      args: ["-C", dirname(mainScript()), "rev-parse", "--short=12", "HEAD"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const rev = new TextDecoder().decode(r.stdout).trim();
    return r.success && rev ? rev : null;
  } catch {
    return null; // no git
  }
}
