import assert from "node:assert/strict";
import type { AddressSpace } from "../../platform/platform.ts";
import { PROT_READ, PROT_WRITE } from "../../platform/platform.ts";
import { Errno } from "../../abi/linux/errno.ts";
import { SysError } from "../../abi/linux/error.ts";
import { MemoryFile, PAGE, PAGE_SIZE } from "./memory_file.ts";
import { MemoryManager } from "./mm.ts";
import { FileMappers, type Mappable, type MMapOpts } from "./mmap_opts.ts";
import { cachedMappable, PageCache } from "../fs/page_cache.ts";

/** An address space that records what it is asked, in order, with `events` shared. */
class RecordingSpace implements AddressSpace {
  constructor(readonly events: string[] = []) {}
  mapFile(addr: bigint, length: bigint): void {
    this.events.push(`map ${addr.toString(16)}+${length / PAGE_SIZE}`);
  }
  unmap(addr: bigint, length: bigint): void {
    this.events.push(`unmap ${addr.toString(16)}+${length / PAGE_SIZE}`);
  }
  flush(): void {
    this.events.push("flush");
  }
  release(): void {}
}

const MAX = 0x7fff_0000_0000n;

/** A file of `size` bytes whose pages are made on demand in mf; write-backs are recorded. */
function fakeFile(mf: MemoryFile, size: bigint, events: string[]) {
  const pages = new Map<number, bigint>();
  const f = {
    size,
    mappers: new FileMappers(),
    mappable: undefined as unknown as Mappable,
  };
  f.mappable = {
    page(index, allocate) {
      let off = pages.get(index);
      if (off === undefined && allocate) pages.set(index, off = mf.allocate(PAGE_SIZE));
      return off ?? null;
    },
    writeBack(off, len) {
      events.push(`write-back ${off / PAGE_SIZE}+${len / PAGE_SIZE}`);
    },
    size: () => f.size,
    mappers: f.mappers,
  };
  return f;
}

function opts(m: Mappable | undefined, length: bigint, o: Partial<MMapOpts> = {}): MMapOpts {
  return {
    length,
    offset: 0n,
    addr: 0n,
    fixed: false,
    noReplace: false,
    perms: PROT_READ | PROT_WRITE,
    maxPerms: 7,
    private: false,
    growsDown: false,
    mappable: m,
    name: "f",
    ...o,
  };
}

function setup() {
  const events: string[] = [];
  const mf = new MemoryFile(1n << 30n);
  const mm = new MemoryManager(new RecordingSpace(events), mf, MAX);
  return { events, mf, mm };
}

Deno.test("a shared mapping far larger than its file makes and maps only the file's pages", () => {
  const { events, mf, mm } = setup();
  const file = fakeFile(mf, BigInt(PAGE + 1), events);
  const used = mf.used;
  const at = mm.mmap(opts(file.mappable, 1n << 40n));
  assert.equal(mf.used - used, 2n * PAGE_SIZE);
  assert.deepEqual(events, [
    `map ${at.toString(16)}+2`,
    `unmap ${(at + 2n * PAGE_SIZE).toString(16)}+${(1n << 40n) / PAGE_SIZE - 2n}`,
  ]);
  // Past the end: nothing to copy (EFAULT), and a touch is SIGBUS until the file grows.
  const far = at + (1n << 39n);
  assert.throws(() => mm.copyIn(far, 1), (e) => e instanceof SysError && e.errno === Errno.EFAULT);
  assert.equal(mm.handleFault(far, PROT_READ), false);
  assert.equal(mm.pastEnd(far, PROT_READ), true);
  file.size = 1n << 40n;
  assert.equal(mm.handleFault(far, PROT_READ), true);
  assert.equal(mm.pastEnd(far, PROT_READ), false);
  assert.equal(mm.copyIn(far, 1)[0], 0);
});

Deno.test("a cut of a mapped file takes the pages it removes out of the mapping (SIGBUS there)", () => {
  const { events, mf, mm } = setup();
  const file = fakeFile(mf, 4n * PAGE_SIZE, events);
  const at = mm.mmap(opts(file.mappable, 4n * PAGE_SIZE));
  mm.copyOut(at + 3n * PAGE_SIZE, new Uint8Array([1]));
  events.length = 0;
  file.size = PAGE_SIZE;
  file.mappers.shrunk(file.size, PAGE_SIZE);
  assert.deepEqual(events, [`unmap ${(at + PAGE_SIZE).toString(16)}+3`, "flush"]);
  assert.equal(mm.pastEnd(at + 3n * PAGE_SIZE), true);
  assert.throws(() => mm.copyOut(at + 3n * PAGE_SIZE, new Uint8Array([2])), SysError);
  assert.equal(mm.pastEnd(at), false);
});

Deno.test("munmap writes a shared mapping back only after the unmap reached its threads", () => {
  const { events, mf, mm } = setup();
  mm.users = 2;
  const file = fakeFile(mf, 2n * PAGE_SIZE, events);
  const at = mm.mmap(opts(file.mappable, 2n * PAGE_SIZE));
  events.length = 0;
  mm.unmapRange(at, at + PAGE_SIZE);
  assert.deepEqual(events, [`unmap ${at.toString(16)}+1`, "flush", "write-back 0+1"]);
});

Deno.test("nothing is mapped at or above the platform's top", () => {
  const { events, mf, mm } = setup();
  const file = fakeFile(mf, 2n * PAGE_SIZE, events);
  const top = { addr: MAX - PAGE_SIZE, fixed: true };
  for (
    const o of [opts(file.mappable, 2n * PAGE_SIZE, top), {
      ...opts(file.mappable, 2n * PAGE_SIZE, top),
      mappable: undefined,
    }]
  ) {
    assert.throws(() => mm.mmap(o), (e) => e instanceof SysError && e.errno === Errno.ENOMEM);
  }
  const at = mm.mmap(opts(file.mappable, PAGE_SIZE));
  events.length = 0;
  assert.throws(
    () => mm.remap(at, PAGE_SIZE, 2n * PAGE_SIZE, true, MAX - PAGE_SIZE),
    (e) => e instanceof SysError && e.errno === Errno.EINVAL,
  );
  assert.deepEqual(events, []);
});

Deno.test("a private file mapping reads zeroes past the file's bytes, whatever memory held", () => {
  const events: string[] = [];
  // A memory file that hands out ranges full of someone else's bytes.
  const mf = new (class extends MemoryFile {
    override allocate(length: bigint): bigint {
      const off = super.allocate(length);
      this.write(off, new Uint8Array(Number(length)).fill(0xee));
      return off;
    }
  })(1n << 30n);
  const mm = new MemoryManager(new RecordingSpace(events), mf, MAX);
  const data = new Uint8Array(100).fill(0x2e);
  const m: Mappable = {
    page: () => null,
    readAt(off, dst) {
      const o = Number(off);
      const n = Math.max(0, Math.min(dst.length, data.length - o));
      dst.set(data.subarray(o, o + n));
      return n;
    },
    size: () => BigInt(data.length),
  };
  const at = mm.mmap(opts(m, PAGE_SIZE, { private: true }));
  const got = mm.copyIn(at, PAGE);
  assert.equal(got.subarray(0, 100).every((b) => b === 0x2e), true);
  assert.equal(got.subarray(100).every((b) => b === 0), true);
});

Deno.test("munmap of memory another task's threads run on takes it from them before it goes", () => {
  const { events, mf, mm } = setup();
  const at = mm.mmap(opts(undefined, PAGE_SIZE, { private: true }));
  mm.copyOut(at, new Uint8Array([1]));
  // After fork the range is shared copy-on-write; the child leaves, so the parent's munmap
  // returns it to the memory file.
  mm.fork(new RecordingSpace()).release();
  mm.users = 2;
  const used = mf.used;
  events.length = 0;
  mm.unmapRange(at, at + PAGE_SIZE);
  assert.deepEqual(events, [`unmap ${at.toString(16)}+1`, "flush"]);
  assert.equal(mf.used, used - PAGE_SIZE);
});

Deno.test("a shared mapping of a cached file reads the file when touched, a window at a time", () => {
  const { mf, mm } = setup();
  const data = new Uint8Array(1024 * PAGE).fill(0x2e);
  let read = 0;
  const cache = new PageCache(mf, {
    readAt(off, dst) {
      const o = Number(off);
      const n = Math.max(0, Math.min(dst.length, data.length - o));
      dst.set(data.subarray(o, o + n));
      read += n;
      return n;
    },
    writeAt: (_off, src) => src.length,
    size: () => BigInt(data.length),
  }, () => {});
  const m = cachedMappable(
    () => cache,
    () => cache,
    () => 0,
    () => BigInt(data.length),
    new FileMappers(),
  );
  const at = mm.mmap(opts(m, BigInt(data.length)));
  assert.equal(read, 0);
  assert.equal(mm.copyIn(at + 500n * PAGE_SIZE, 1)[0], 0x2e);
  assert.equal(read, 64 * PAGE);
  // The next window follows the first in the memory file: the VMA grows, no VMA is added.
  const vmas = mm.vmas.length;
  mm.copyIn(at + 564n * PAGE_SIZE, 1);
  assert.equal(read, 128 * PAGE);
  assert.equal(mm.vmas.length, vmas);
});
