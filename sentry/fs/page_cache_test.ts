import assert from "node:assert/strict";
import { MemoryFile, PAGE } from "../mm/memory_file.ts";
import { type CacheBacking, PageCache } from "./page_cache.ts";

/** A file held in a growable buffer, counting the writes that reach it. */
class BufferFile implements CacheBacking {
  data = new Uint8Array(0);
  writes = 0;
  readAt(off: bigint, dst: Uint8Array<ArrayBuffer>): number {
    const o = Number(off);
    if (o >= this.data.length) return 0;
    const n = Math.min(dst.length, this.data.length - o);
    dst.set(this.data.subarray(o, o + n));
    return n;
  }
  writeAt(off: bigint, src: Uint8Array<ArrayBuffer>): number {
    const end = Number(off) + src.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(end);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(src, Number(off));
    this.writes++;
    return src.length;
  }
  size(): bigint {
    return BigInt(this.data.length);
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function setup(size: number) {
  const mf = new MemoryFile(1n << 30n);
  const file = new BufferFile();
  file.data = new Uint8Array(size).fill(0x2e);
  let emptied = 0;
  const cache = new PageCache(mf, file, () => emptied++);
  return { mf, file, cache, emptied: () => emptied };
}

Deno.test("PageCache.pages() makes each gap one run and keeps the runs it has", () => {
  const { cache } = setup(8 * PAGE);
  const [mid] = cache.pages(3, 2);
  const runs = cache.pages(0, 8);
  assert.deepEqual(runs.map((r) => [r.index, r.count]), [[0, 3], [3, 2], [5, 3]]);
  assert.equal(runs[1].off, mid.off);
  assert.equal(cache.page(4, false), mid.off + BigInt(PAGE));
  assert.equal(cache.page(9, false), null);
});

Deno.test("PageCache reads and writes agree with its pages, and write-back brings stores", () => {
  const { mf, file, cache } = setup(4 * PAGE);
  file.data.set(new TextEncoder().encode("file"), PAGE);
  const [run] = cache.pages(0, 4);
  // A store through a mapping is what read(2) returns, before any write-back.
  mf.write(run.off + BigInt(PAGE) + 4n, new TextEncoder().encode("+map"));
  const got = new Uint8Array(8);
  assert.equal(cache.readAt(BigInt(PAGE), got), 8);
  assert.equal(text(got), "file+map");
  assert.equal(text(file.data.subarray(PAGE, PAGE + 8)), "file....");
  // write(2) goes to the file and to the page.
  cache.update(2n * BigInt(PAGE), new TextEncoder().encode("w"));
  assert.equal(text(mf.slice(run.off + 2n * BigInt(PAGE), 1)!), "w");
  cache.writeBack(0n, 4n * BigInt(PAGE));
  assert.equal(text(file.data.subarray(PAGE, PAGE + 8)), "file+map");
});

Deno.test("PageCache write-back stops at the file's end and leaves untouched pages alone", () => {
  const { mf, file, cache } = setup(PAGE);
  // Pages 1-3 are past the end when made: never filled, never touched.
  const [run] = cache.pages(0, 4);
  mf.write(run.off, new TextEncoder().encode("zero"));
  cache.writeBack(0n, 8n * BigInt(PAGE));
  assert.equal(file.data.length, PAGE);
  assert.equal(text(file.data.subarray(0, 4)), "zero");
  // The file grows (by ftruncate, or on the host): the untouched pages are not written over it.
  const grown = new Uint8Array(4 * PAGE);
  grown.set(file.data);
  grown.set(new TextEncoder().encode("host"), 2 * PAGE);
  file.data = grown;
  file.writes = 0;
  cache.writeBack(0n, 4n * BigInt(PAGE));
  assert.equal(file.writes, 1);
  assert.equal(text(file.data.subarray(2 * PAGE, 2 * PAGE + 4)), "host");
});

Deno.test("PageCache.truncate() zeroes what the cut removes, kept pages stay", () => {
  const { mf, cache } = setup(3 * PAGE);
  const [run] = cache.pages(0, 3);
  mf.write(run.off, new TextEncoder().encode("keep"));
  mf.write(run.off + 2n * BigInt(PAGE), new TextEncoder().encode("gone"));
  cache.truncate(2n);
  assert.equal(text(mf.slice(run.off, 4)!), "ke\0\0");
  assert.equal(text(mf.slice(run.off + 2n * BigInt(PAGE), 4)!), "\0\0\0\0");
});

Deno.test("PageCache's last reference writes back and returns its pages", () => {
  const { mf, file, cache, emptied } = setup(2 * PAGE);
  const used = mf.used;
  const [run] = cache.pages(0, 2);
  cache.incRef();
  cache.incRef();
  mf.write(run.off, new TextEncoder().encode("last"));
  cache.decRef();
  assert.equal(emptied(), 0);
  // The last mapping leaving writes nothing itself: its decRef writes everything once.
  file.writes = 0;
  cache.writeBack(0n, 2n * BigInt(PAGE), true);
  assert.equal(file.writes, 0);
  cache.decRef();
  assert.equal(emptied(), 1);
  assert.equal(text(file.data.subarray(0, 4)), "last");
  assert.equal(mf.used, used);
  assert.equal(cache.page(0, false), null);
});

/** A memory file that hands out ranges full of someone else's bytes. */
class DirtyMemoryFile extends MemoryFile {
  override allocate(length: bigint): bigint {
    const off = super.allocate(length);
    this.write(off, new Uint8Array(Number(length)).fill(0xee));
    return off;
  }
}

Deno.test("PageCache fills what lies past the file's end with zeroes, not what memory held", () => {
  const mf = new DirtyMemoryFile(1n << 30n);
  const file = new BufferFile();
  file.data = new Uint8Array(PAGE + 100).fill(0x2e);
  const cache = new PageCache(mf, file, () => {});
  const [run] = cache.pages(0, 3);
  const got = new Uint8Array(3 * PAGE);
  mf.read(run.off, got);
  assert.equal(got.subarray(0, PAGE + 100).every((b) => b === 0x2e), true);
  assert.equal(got.subarray(PAGE + 100).every((b) => b === 0), true);
});

Deno.test("PageCache.grow() zeroes the old last page past the old end, and no more", () => {
  const { mf, file, cache } = setup(PAGE + 100);
  const [run] = cache.pages(0, 2);
  // A mapping stored past the end; the file then grows over it.
  mf.write(run.off + BigInt(PAGE + 200), new TextEncoder().encode("past"));
  file.data = new Uint8Array(2 * PAGE).fill(0x2e);
  cache.grow(BigInt(PAGE + 100), BigInt(PAGE + 202));
  assert.equal(text(mf.slice(run.off + BigInt(PAGE + 200), 4)!), "\0\0st");
  cache.grow(BigInt(PAGE + 202), BigInt(2 * PAGE));
  assert.equal(text(mf.slice(run.off + BigInt(PAGE + 200), 4)!), "\0\0\0\0");
  assert.equal(text(mf.slice(run.off + BigInt(PAGE + 99), 1)!), ".");
});
