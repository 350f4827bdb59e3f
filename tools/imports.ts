/**
 * The shape of the tree: lines of TypeScript per folder (tests apart), the import cycles between
 * folders and between files, and imports that cross a layer boundary the design forbids
 * (LAYERS). For a layout change's before and after; tests/layers_test.ts keeps the boundaries.
 *
 *   deno run -A tools/imports.ts [--check]
 *
 * With --check it exits 1 when a forbidden import exists.
 *
 * @module
 */
import { dirname, join, normalize } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

/** The Sentry's layers below the syscall files: none of them may import those. */
const BELOW_SYSCALLS = ["kernel", "mm", "vfs", "fs", "loader", "net"].map((d) => `sentry/${d}/`);

/** Folder prefixes, and the prefixes they may not import from. */
export const LAYERS: [string, string[]][] = [
  // The kernel is not the `runsc boot` process, nor the OCI runtime.
  ["sentry/", ["boot/", "oci/"]],
  // Syscall files use the kernel's state (limits, UTS, tasks), never the other way.
  ...BELOW_SYSCALLS.map((d): [string, string[]] => [d, ["sentry/syscalls/"]]),
  // Memory management knows address spaces and the memory file, not tasks or files.
  ["sentry/mm/", BELOW_SYSCALLS.filter((d) => d !== "sentry/mm/")],
];

export interface Shape {
  /** Lines of code and of tests per folder. */
  lines: Map<string, { code: number; tests: number }>;
  /** Groups of folders that import each other, directly or not. */
  folderCycles: string[][];
  /** Pairs of folders importing each other directly, with the imports of the side with fewer. */
  pairs: { folders: [string, string]; imports: string[] }[];
  /** Groups of files that import each other (type-only imports counted). */
  fileCycles: string[][];
  /** The same without type-only imports: cycles that exist when the program runs. */
  runtimeCycles: string[][];
  /** Imports LAYERS forbids, "from -> to". */
  forbidden: string[];
}

function* tsFiles(root: string, dir: string): Generator<string> {
  for (const e of Deno.readDirSync(join(root, dir))) {
    const rel = dir ? join(dir, e.name) : e.name;
    if (e.isDirectory) {
      if (e.name.startsWith(".") || e.name === "dist" || e.name === "node_modules") continue;
      yield* tsFiles(root, rel);
    } else if (e.name.endsWith(".ts")) yield rel;
  }
}

// Static imports and re-exports (type-only ones too: they are dependencies between layers even
// if they vanish at run time). Dynamic imports are left out: they are how a cycle is broken.
const IMPORT = /^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.\.?\/[^"']+\.ts)["']/gms;

const isTest = (f: string) => f.endsWith("_test.ts") || f.startsWith("tests/");

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

/** Reads every .ts file under root (the repository by default) and describes the imports. */
export function analyze(root = ROOT): Shape {
  const edges = new Map<string, Set<string>>();
  const runtime = new Map<string, Set<string>>();
  const lines = new Map<string, { code: number; tests: number }>();
  for (const f of [...tsFiles(root, "")].sort()) {
    const text = Deno.readTextFileSync(join(root, f));
    const dir = dirname(f);
    const l = lines.get(dir) ?? { code: 0, tests: 0 };
    const n = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (isTest(f)) l.tests += n;
    else l.code += n;
    lines.set(dir, l);
    if (isTest(f)) continue;
    const deps = new Set<string>();
    const live = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const d = normalize(join(dir, m[1]));
      if (isTest(d)) continue;
      deps.add(d);
      if (!/^\s*(?:import|export)\s+type\b/.test(m[0])) live.add(d);
    }
    edges.set(f, deps);
    runtime.set(f, live);
  }

  const folders = new Map<string, Set<string>>();
  for (const [f, deps] of edges) {
    const s = folders.get(dirname(f)) ?? new Set<string>();
    for (const d of deps) if (dirname(d) !== dirname(f)) s.add(dirname(d));
    folders.set(dirname(f), s);
  }
  const side = (from: string, to: string) =>
    [...edges].flatMap(([f, deps]) =>
      dirname(f) === from
        ? [...deps].filter((d) => dirname(d) === to).map((d) => `${f} -> ${d}`)
        : []
    );
  const pairs: Shape["pairs"] = [];
  for (const [a, as] of [...folders].sort()) {
    for (const b of [...as].sort()) {
      if (a >= b || !folders.get(b)?.has(a)) continue;
      const ab = side(a, b), ba = side(b, a);
      pairs.push({ folders: [a, b], imports: ab.length <= ba.length ? ab : ba });
    }
  }

  const forbidden: string[] = [];
  for (const [f, deps] of edges) {
    for (const [from, banned] of LAYERS) {
      if (!f.startsWith(from)) continue;
      for (const d of deps) {
        if (banned.some((b) => d.startsWith(b))) forbidden.push(`${f} -> ${d}`);
      }
    }
  }

  return {
    lines,
    folderCycles: cycles(folders),
    pairs,
    fileCycles: cycles(edges),
    runtimeCycles: cycles(runtime),
    forbidden,
  };
}

function report(s: Shape): void {
  const row = (name: string, a: number, b: number) =>
    console.log(`  ${name.padEnd(28)} ${String(a).padStart(7)} ${String(b).padStart(7)}`);
  console.log("lines per folder (code, tests):");
  let code = 0, tests = 0;
  for (const [dir, l] of [...s.lines].sort()) {
    row(dir, l.code, l.tests);
    code += l.code;
    tests += l.tests;
  }
  row("total", code, tests);

  console.log(`\nimport cycles between folders: ${s.folderCycles.length}`);
  for (const c of s.folderCycles) console.log(`  ${c.join(" ")}`);
  console.log(
    `\nfolders importing each other (and the imports of the side with fewer): ${s.pairs.length}`,
  );
  for (const p of s.pairs) {
    console.log(`  ${p.folders.join(" <-> ")}`);
    for (const i of p.imports) console.log(`      ${i}`);
  }
  console.log(`\nimport cycles between files: ${s.fileCycles.length}`);
  for (const c of s.fileCycles) console.log(`  (${c.length}) ${c.join(" ")}`);
  console.log(
    `\nimport cycles between files, type-only imports left out: ${s.runtimeCycles.length}`,
  );
  for (const c of s.runtimeCycles) console.log(`  (${c.length}) ${c.join(" ")}`);
  console.log(`\nforbidden imports: ${s.forbidden.length === 0 ? "none" : s.forbidden.length}`);
  for (const f of s.forbidden) console.log(`  ${f}`);
}

if (import.meta.main) {
  const shape = analyze();
  report(shape);
  if (Deno.args.includes("--check") && shape.forbidden.length > 0) Deno.exit(1);
}
