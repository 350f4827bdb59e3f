/**
 * path.ts gives node:path's results (its reference) for the names the program handles.
 */

import assert from "node:assert/strict";
import * as node from "node:path";
import { fileURLToPath as nodeFileURLToPath } from "node:url";
import * as ours from "../path.ts";

const SAMPLES = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///a//b",
  "a",
  "a/",
  "a/b",
  "a/b/",
  "/a",
  "/a/",
  "/a/b",
  "/a/b/",
  "/a/./b/../c",
  "../a/../../b",
  "a/../..",
  "a/..",
  "/..",
  "/../a",
  "./",
  "./a/.",
  "a/b/c/../../..",
  "/tmp/runsc-bundle-x/rootfs/",
  "//a",
  "a//b//",
  "rootfs",
  "config.json",
  "x.tar.gz",
  ".hidden",
];

Deno.test("path: normalize, dirname, basename and isAbsolute match node:path", () => {
  for (const p of SAMPLES) {
    assert.equal(ours.normalize(p), node.normalize(p), `normalize(${JSON.stringify(p)})`);
    assert.equal(ours.dirname(p), node.dirname(p), `dirname(${JSON.stringify(p)})`);
    assert.equal(ours.basename(p), node.basename(p), `basename(${JSON.stringify(p)})`);
    assert.equal(ours.basename(p, ".gz"), node.basename(p, ".gz"), `basename(${p}, .gz)`);
    assert.equal(ours.isAbsolute(p), node.isAbsolute(p), `isAbsolute(${JSON.stringify(p)})`);
  }
});

Deno.test("path: join and resolve match node:path", () => {
  for (const a of SAMPLES) {
    for (const b of ["", "b", "/b", "b/", "../b", ".", "c/./d"]) {
      assert.equal(ours.join(a, b), node.join(a, b), `join(${JSON.stringify([a, b])})`);
      assert.equal(ours.resolve(a, b), node.resolve(a, b), `resolve(${JSON.stringify([a, b])})`);
    }
    assert.equal(ours.resolve(a), node.resolve(a), `resolve(${JSON.stringify(a)})`);
  }
  assert.equal(ours.join(), node.join());
  assert.equal(ours.resolve(), node.resolve());
});

Deno.test("path: fileURLToPath matches node:url", () => {
  for (const u of ["file:///work/main.ts", "file:///a%20b/c%23d.ts", "file:///"]) {
    assert.equal(ours.fileURLToPath(u), nodeFileURLToPath(u));
  }
  assert.throws(() => ours.fileURLToPath("https://x/y"));
});
