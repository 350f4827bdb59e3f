/**
 * Prints the shape of the tree: lines of TypeScript per folder (tests apart), the import cycles
 * between folders and between files, and imports that cross a layer boundary the design forbids
 * (sentry/ must import nothing of boot/ or oci/). For a layout change's before and after.
 *
 *   deno run -A tools/imports.ts [--check]
 *
 * With --check it exits 1 when a forbidden import exists.
 *
 * @module
 */
import { dirname, join, normalize } from "node:path";

const root = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

/** Folder prefixes that may not import from the listed prefixes. */
const FORBIDDEN: [string, string[]][] = [["sentry/", ["boot/", "oci/"]]];

function* tsFiles(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(join(root, dir))) {
    const rel = dir ? join(dir, e.name) : e.name;
    if (e.isDirectory) {
      if (e.name.startsWith(".") || e.name === "dist" || e.name === "node_modules") continue;
      yield* tsFiles(rel);
    } else if (e.name.endsWith(".ts")) yield rel;
  }
}

// Static imports and re-exports (type-only ones too: they are dependencies between layers even
// if they vanish at run time). Dynamic imports are left out: they are how a cycle is broken.
const IMPORT = /^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.\.?\/[^"']+\.ts)["']/gms;

const isTest = (f: string) => f.endsWith("_test.ts") || f.startsWith("tests/");

const files = [...tsFiles("")].sort();
const edges = new Map<string, Set<string>>();
/** The same without `import type`/`export type` lines: what exists when the program runs. */
const runtime = new Map<string, Set<string>>();
const lines = new Map<string, { code: number; tests: number }>();
for (const f of files) {
  const text = Deno.readTextFileSync(join(root, f));
  const dir = dirname(f);
  const l = lines.get(dir) ?? { code: 0, tests: 0 };
  const n = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (isTest(f)) l.tests += n;
  else l.code += n;
  lines.set(dir, l);
  const deps = new Set<string>();
  const live = new Set<string>();
  for (const m of text.matchAll(IMPORT)) {
    const d = normalize(join(dir, m[1]));
    deps.add(d);
    if (!/^\s*(?:import|export)\s+type\b/.test(m[0])) live.add(d);
  }
  edges.set(f, deps);
  runtime.set(f, live);
}

/** Strongly connected components with more than one member (Tarjan's algorithm). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => b.length - a.length || a[0].localeCompare(b[0]));
}

const code = new Map([...edges].filter(([f]) => !isTest(f)));
const folders = new Map<string, Set<string>>();
for (const [f, deps] of code) {
  const s = folders.get(dirname(f)) ?? new Set<string>();
  for (const d of deps) if (dirname(d) !== dirname(f) && !isTest(d)) s.add(dirname(d));
  folders.set(dirname(f), s);
}

console.log("lines per folder (code, tests):");
let total = 0, totalTests = 0;
for (const [dir, l] of [...lines].sort()) {
  console.log(`  ${dir.padEnd(28)} ${String(l.code).padStart(7)} ${String(l.tests).padStart(7)}`);
  total += l.code;
  totalTests += l.tests;
}
console.log(
  `  ${"total".padEnd(28)} ${String(total).padStart(7)} ${String(totalTests).padStart(7)}`,
);

const folderCycles = cycles(folders);
console.log(`\nimport cycles between folders: ${folderCycles.length}`);
for (const c of folderCycles) console.log(`  ${c.join(" ")}`);
// Pairs of folders that import each other directly, with the file imports on each side: the
// places to cut a cycle.
const pairs: string[] = [];
for (const [a, as] of [...folders].sort()) {
  for (const b of [...as].sort()) {
    if (a < b && folders.get(b)?.has(a)) pairs.push(`${a} <-> ${b}`);
  }
}
console.log(
  `\nfolders importing each other (and the imports of the side with fewer): ${pairs.length}`,
);
for (const p of pairs) {
  console.log(`  ${p}`);
  const [a, b] = p.split(" <-> ");
  const side = (from: string, to: string) =>
    [...code].flatMap(([f, deps]) =>
      dirname(f) === from
        ? [...deps].filter((d) => dirname(d) === to).map((d) => `${f} -> ${d}`)
        : []
    );
  const ab = side(a, b), ba = side(b, a);
  for (const e of ab.length <= ba.length ? ab : ba) console.log(`      ${e}`);
}

const fileCycles = cycles(code);
console.log(`\nimport cycles between files: ${fileCycles.length}`);
for (const c of fileCycles) console.log(`  (${c.length}) ${c.join(" ")}`);
const liveCycles = cycles(new Map([...runtime].filter(([f]) => !isTest(f))));
console.log(`\nimport cycles between files, type-only imports left out: ${liveCycles.length}`);
for (const c of liveCycles) console.log(`  (${c.length}) ${c.join(" ")}`);

let bad = 0;
for (const [f, deps] of code) {
  for (const [from, banned] of FORBIDDEN) {
    if (!f.startsWith(from)) continue;
    for (const d of deps) {
      if (banned.some((b) => d.startsWith(b))) {
        if (bad++ === 0) console.log("\nforbidden imports:");
        console.log(`  ${f} -> ${d}`);
      }
    }
  }
}
if (bad === 0) console.log("\nforbidden imports: none");
if (Deno.args.includes("--check") && bad > 0) Deno.exit(1);
