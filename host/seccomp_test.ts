import assert from "node:assert/strict";
import { buildFilter, retErrno, SeccompRet } from "./seccomp.ts";
import { inFreshDeno } from "../tests/harness.ts";
import { SYS } from "../abi/linux/syscalls.ts";

const SYS_dup = SYS.dup;

/**
 * Runs `code` in a fresh Deno process (a filter cannot be taken off again, so the test runner
 * itself must never install one), with this module as `s`, and returns what it printed.
 */
function inChild(code: string): Promise<string> {
  const here = new URL("./seccomp.ts", import.meta.url).href;
  return inFreshDeno(`import * as s from "${here}";\n${code}`);
}

Deno.test("a filter answers a call by its number and whole 64-bit arguments", async () => {
  const got = await inChild(`
    import { rawSyscall } from "${new URL("./libc.ts", import.meta.url).href}";
    const f = s.buildFilter({
      defaultAction: s.SeccompRet.ALLOW,
      rules: [
        { nr: ${SYS_dup}, when: [[{ arg: 0, value: 0x1_0000_deadn }]], action: s.retErrno(77) },
        { nr: ${SYS_dup}, when: [[{ arg: 0, mask: 0xffn, value: 0xeen }]], action: s.retErrno(78) },
      ],
    });
    s.installFilter(f);
    console.log([0x1_0000_deadn, 0x2_0000_deadn, 0x7een].map((a) => rawSyscall(${SYS_dup}, a)).join(" "));
  `);
  // A match answers its errno; the other high word is not a match, so dup itself says EBADF.
  assert.equal(got, "-77 -9 -78");
});

Deno.test("a filter can tell calls apart by the address of their syscall instruction", async () => {
  const got = await inChild(`
    import { rawSyscall } from "${new URL("./libc.ts", import.meta.url).href}";
    import { mapAnonymous, sealCode } from "${new URL("./mman.ts", import.meta.url).href}";
    // long f(long fd): mov eax, dup ; syscall ; ret
    const page = mapAnonymous(4096n);
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(page, 4096))
      .set([0x48, 0xc7, 0xc0, ${SYS_dup}, 0, 0, 0, 0x0f, 0x05, 0xc3]);
    sealCode(page, 4096n);
    const at = BigInt(Deno.UnsafePointer.value(page));
    const f = new Deno.UnsafeFnPointer(page, { parameters: ["i64"], result: "i64" } as const);
    const rule = (ip: bigint, e: number) => ({
      nr: ${SYS_dup},
      when: [[{ arg: "ip" as const, value: ip }]],
      action: s.retErrno(e),
    });
    // The instruction after the syscall is what the filter sees; one byte off is no match.
    s.installFilter(s.buildFilter({
      defaultAction: s.SeccompRet.ALLOW,
      rules: [rule(at + 9n, 77), rule(at + 8n, 78)],
    }));
    console.log([f.call(1000n), rawSyscall(${SYS_dup}, 1000n)].join(" "));
  `);
  // From the page: the rule's errno; from libc's instruction elsewhere, dup's own EBADF.
  assert.equal(got, "-77 -9");
});

Deno.test("a filter installed with TSYNC confines every thread of the process", async () => {
  const got = await inChild(`
    const f = s.buildFilter({ defaultAction: s.SeccompRet.ALLOW, rules: [] });
    s.installFilter(f, s.SECCOMP_FILTER_FLAG_TSYNC);
    const tids = [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name));
    const bad = tids.filter((t) => {
      const c = s.confinementOf("self", t);
      return c === null || c.seccomp !== 2 || c.noNewPrivs !== 1;
    });
    console.log(tids.length > 1 ? "threads " + bad.length : "one thread");
  `);
  assert.equal(got, "threads 0");
});

Deno.test("buildFilter refuses what it cannot express", () => {
  assert.throws(() => buildFilter({ defaultAction: 0, rules: [{ nr: 0x4000_0000 }] }), RangeError);
  assert.throws(
    () =>
      buildFilter({
        defaultAction: SeccompRet.ALLOW,
        rules: [{ nr: 1, when: [[{ arg: 6, value: 0n }]], action: retErrno(1) }],
      }),
    RangeError,
  );
});
