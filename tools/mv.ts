/**
 * Moves TypeScript modules and rewrites every relative specifier that names them (static and
 * dynamic imports, re-exports, `new URL(..., import.meta.url)`), so a layout change is one
 * reviewable commit instead of hand edits across the tree.
 *
 *   deno run -A tools/mv.ts FROM TO [FROM TO ...]
 *
 * Paths are relative to the repository root. Files are moved with `git mv`.
 *
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";

const root = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

function usage(msg: string): never {
  console.error(`tools/mv.ts: ${msg}\nusage: deno run -A tools/mv.ts FROM TO [FROM TO ...]`);
  Deno.exit(2);
}

if (Deno.args.length === 0 || Deno.args.length % 2 !== 0) usage("give FROM TO pairs");
const moves = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) {
  const from = normalize(Deno.args[i]);
  const to = normalize(Deno.args[i + 1]);
  if (!from.endsWith(".ts") || !to.endsWith(".ts")) usage("only .ts modules move");
  moves.set(from, to);
}

function* tsFiles(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(join(root, dir))) {
    const rel = dir ? join(dir, e.name) : e.name;
    if (e.isDirectory) {
      if (e.name.startsWith(".") || e.name === "dist" || e.name === "node_modules") continue;
      yield* tsFiles(rel);
    } else if (e.name.endsWith(".ts")) yield rel;
  }
}

// A relative specifier in quotes ending in .ts: enough for this tree, whose imports are all of
// that form.
const SPEC = /(["'])(\.\.?\/[^"'\n]*?\.ts)\1/g;

let changed = 0;
for (const file of [...tsFiles("")]) {
  const newFile = moves.get(file) ?? file;
  const text = Deno.readTextFileSync(join(root, file));
  const out = text.replace(SPEC, (whole, q: string, spec: string) => {
    const target = normalize(join(dirname(file), spec));
    const newTarget = moves.get(target) ?? target;
    if (newTarget === target && newFile === file) return whole;
    let r = relative(dirname(newFile), newTarget);
    if (!r.startsWith(".")) r = "./" + r;
    return `${q}${r}${q}`;
  });
  if (out !== text) {
    Deno.writeTextFileSync(join(root, file), out);
    changed++;
  }
}
for (const [from, to] of moves) {
  Deno.mkdirSync(join(root, dirname(to)), { recursive: true });
  const p = new Deno.Command("git", { args: ["mv", from, to], cwd: root }).outputSync();
  if (!p.success) usage(`git mv ${from} ${to}: ${new TextDecoder().decode(p.stderr)}`);
}
console.log(`moved ${moves.size} module(s); rewrote specifiers in ${changed} file(s)`);
