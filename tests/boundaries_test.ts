/**
 * The project's layering rules, checked over the sources so that they stay true:
 *
 * - host/ is the one FFI boundary: no file outside it opens a library, makes or reads through a
 *   pointer, or calls a raw libc symbol (it uses host/'s typed wrappers instead);
 * - gofer/lisafs/ is the protocol only (connection, dispatch, codec, channel, client): it
 *   imports nothing of the Gofer's host file work. It may import abi/ (errnos), host/ (its
 *   socket and descriptor calls), log.ts and node: built-ins, and nothing else of the project.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = Deno.env.get("RUNSC_BOUNDARIES_ROOT") ?? fileURLToPath(new URL("..", import.meta.url));

/** Folders whose files are not the project's sources. */
const SKIP_DIRS = new Set(["dist", ".cache", "node_modules", ".git"]);

function sources(dir = ROOT): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory && !SKIP_DIRS.has(e.name)) out.push(...sources(p));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(relative(ROOT, p));
  }
  return out.sort();
}

/** What counts as calling into the host without host/'s wrappers. */
const RAW_FFI: [RegExp, string][] = [
  [/\bDeno\.(dlopen|UnsafePointer|UnsafePointerView|UnsafeCallback|UnsafeFnPointer)\b/, "Deno FFI"],
  [/\.symbols\.\w+/, "a raw libc symbol"],
  [
    /import\s*\{[^}]*\b(libc|rawSyscall|errno)\b[^}]*\}\s*from\s*["'][^"']*host\/libc\.ts["']/,
    "libc, rawSyscall or errno from host/libc.ts",
  ],
];

/** Places outside host/ allowed raw FFI for now, each with its reason. */
const RAW_FFI_ALLOWED: Record<string, string> = {
  // Makes raw system calls inside a confined child to prove host/'s filter refuses them.
  "tests/security/confine_test.ts": "tests host/filters.ts itself",
};

/** Finds raw FFI uses in `files` (paths relative to `root`): "file:line: what" each. */
function rawFfiUses(files: string[], root = ROOT): string[] {
  const found: string[] = [];
  for (const f of files) {
    if (f.startsWith("host/")) continue;
    if (Object.keys(RAW_FFI_ALLOWED).some((a) => f === a || (a.endsWith("/") && f.startsWith(a)))) {
      continue;
    }
    const text = Deno.readTextFileSync(join(root, f));
    for (const [re, what] of RAW_FFI) {
      const m = re.exec(text);
      if (m) found.push(`${f}:${text.slice(0, m.index).split("\n").length}: ${what}`);
    }
  }
  return found;
}

/** The project's modules that `file` imports, as paths relative to ROOT. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(join(ROOT, file));
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^"']*?from\s*["']([^"']+)["']/g)) {
    if (m[1].startsWith(".")) out.push(relative(ROOT, join(ROOT, file, "..", m[1])));
  }
  for (const m of text.matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
    out.push(relative(ROOT, join(ROOT, file, "..", m[1])));
  }
  return out;
}

/** What gofer/lisafs/ may import of the project. */
const LISAFS_MAY_IMPORT = ["gofer/lisafs/", "abi/", "host/", "log.ts"];

Deno.test("no file outside host/ calls a raw FFI symbol", () => {
  assert.deepEqual(rawFfiUses(sources()), []);
});

Deno.test("the FFI check sees each kind of raw call", () => {
  const root = Deno.makeTempDirSync();
  // Spelt in pieces, so that this file does not match its own patterns.
  const [d, sym, lib] = ["Deno.", ".symbols.", `"../host/${"libc"}.ts"`];
  try {
    const cases = [
      `import { ${"libc"} } from ${lib};\n`,
      `import {\n  closeFd,\n  ${"rawSyscall"},\n} from ${lib};\n`,
      `const p = ${d}UnsafePointer.of(b);\n`,
      `lib${sym}getpid();\n`,
      `const l = ${d}dlopen("libc.so.6", {});\n`,
    ];
    for (const c of cases) {
      Deno.writeTextFileSync(join(root, "x.ts"), c);
      assert.equal(rawFfiUses(["x.ts"], root).length, 1, c);
    }
    Deno.writeTextFileSync(join(root, "x.ts"), `import { closeFd } from ${lib};\n`);
    assert.deepEqual(rawFfiUses(["x.ts"], root), []);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("gofer/lisafs/ imports only itself, abi/, host/ and log.ts", () => {
  const bad: string[] = [];
  for (const f of sources().filter((f) => f.startsWith("gofer/lisafs/"))) {
    for (const i of importsOf(f)) {
      if (!LISAFS_MAY_IMPORT.some((p) => i === p || i.startsWith(p))) bad.push(`${f} -> ${i}`);
    }
  }
  assert.deepEqual(bad, []);
});
