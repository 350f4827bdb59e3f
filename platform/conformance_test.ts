/**
 * Platform conformance: the same expectations, run against every platform (ptrace and kvm).
 * A platform that cannot run here (not root, /dev/kvm missing or unusable) is skipped with
 * the reason.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { MemoryFile } from "../sentry/mm/memory_file.ts";
import { KvmPlatform } from "./kvm/kvm.ts";
import { USER_PAGES_BASE } from "./kvm/ring0.ts";
import { type AddressSpace, type Platform, PROT_EXEC, PROT_READ, PROT_WRITE } from "./platform.ts";
import { PtracePlatform } from "./ptrace/ptrace.ts";
import { probeSystrap, SystrapPlatform } from "./systrap/systrap.ts";
import { R, Registers } from "./registers.ts";

const CODE = 0x400000n;
const DATA = 0x500000n;
const SIGILL = 4, SIGTRAP = 5, SIGFPE = 8, SIGSEGV = 11;

/** Why a platform cannot be tested here, or null. */
function unavailable(name: string): string | null {
  if (Deno.uid() !== 0) return "needs root";
  if (name === "systrap") return probeSystrap(new MemoryFile(1n << 24n));
  if (name !== "kvm") return null;
  try {
    new KvmPlatform(new MemoryFile(1n << 20n)).release();
    return null;
  } catch (e) {
    return `KVM is unusable here: ${e instanceof Error ? e.message : e}`;
  }
}

const PLATFORMS: Record<string, (mf: MemoryFile) => Platform> = {
  ptrace: (mf) => new PtracePlatform(mf),
  kvm: (mf) => new KvmPlatform(mf),
  systrap: (mf) => new SystrapPlatform(mf),
};

interface Setup {
  mf: MemoryFile;
  p: Platform;
  as: AddressSpace;
  regs: Registers;
  data: bigint;
}

function setup(name: string, code: number[]): Setup {
  const mf = new MemoryFile(1n << 30n);
  const p = PLATFORMS[name](mf);
  const as = p.newAddressSpace();
  const off = mf.allocate(4096n);
  mf.write(off, new Uint8Array(code));
  as.mapFile(CODE, 4096n, off, PROT_READ | PROT_EXEC);
  const data = mf.allocate(4096n);
  as.mapFile(DATA, 4096n, data, PROT_READ | PROT_WRITE);
  return { mf, p, as, regs: userRegs(), data };
}

/** Registers of a 64-bit task about to run CODE with its stack at the top of DATA. */
function userRegs(): Registers {
  const regs = new Registers();
  regs.r[R.cs] = 0x33n;
  regs.r[R.ss] = 0x2bn;
  regs.r[R.eflags] = 0x202n;
  regs.rip = CODE;
  regs.rsp = DATA + 4096n;
  return regs;
}

// mov eax, imm32 ; syscall
const sys = (nr: number) => [0xb8, nr & 0xff, (nr >> 8) & 0xff, 0, 0, 0x0f, 0x05];

for (const name of Object.keys(PLATFORMS)) {
  const why = unavailable(name);
  if (why) console.warn(`skipping ${name} conformance tests: ${why}`);
  const test = (desc: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${name}: ${desc}`, ignore: why !== null, fn });

  test("general registers survive a round trip through the Sentry", async () => {
    const { p, as, regs } = setup(name, [...sys(39), ...sys(39)]);
    const ctx = p.newContext();
    try {
      const gprs = [R.rbx, R.rdx, R.rsi, R.rdi, R.rbp, R.r8, R.r9, R.r10, R.r12, R.r13, R.r14];
      gprs.forEach((g, i) => (regs.r[g] = 0x1111_0000_0000_0000n + BigInt(i)));
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.sysno, 39);
      assertEquals(regs.rip, CODE + 7n);
      assertEquals(regs.rsp, DATA + 4096n);
      gprs.forEach((g, i) => assertEquals(regs.r[g], 0x1111_0000_0000_0000n + BigInt(i)));
      // What the Sentry changes is what the application sees next.
      gprs.forEach((g, i) => (regs.r[g] = 0x2222_0000_0000_0000n + BigInt(i)));
      regs.r[R.r15] = 0x1234n;
      regs.setReturn(77n);
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.rip, CODE + 14n);
      gprs.forEach((g, i) => assertEquals(regs.r[g], 0x2222_0000_0000_0000n + BigInt(i)));
      assertEquals(regs.r[R.r15], 0x1234n);
      // syscall itself leaves the return address in rcx and rflags in r11.
      assertEquals(regs.r[R.rcx], CODE + 14n);
    } finally {
      p.release();
    }
  });

  test("the syscall return value and a written register reach the application", async () => {
    // mov eax,110 ; syscall ; mov edi,eax ; mov eax,60 ; syscall
    const { p, as, regs } = setup(name, [...sys(110), 0x89, 0xc7, ...sys(60)]);
    const ctx = p.newContext();
    try {
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.sysno, 110);
      regs.setReturn(4242n);
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.sysno, 60);
      assertEquals(regs.arg(0), 4242n);
    } finally {
      p.release();
    }
  });

  const faults: [string, number[], (r: { kind: string; signo?: number; addr?: bigint }) => void][] =
    [
      ["a page fault is reported with its address", [
        0x48,
        0x8b,
        0x04,
        0x25,
        0x78,
        0x56,
        0x34,
        0x12,
      ], (r) => {
        assertEquals([r.kind, r.signo, r.addr], ["fault", SIGSEGV, 0x12345678n]);
      }],
      ["a general protection fault (hlt at CPL3) is SIGSEGV", [0xf4], (r) => {
        assertEquals([r.kind, r.signo], ["fault", SIGSEGV]);
      }],
      ["an invalid opcode (ud2) is SIGILL", [0x0f, 0x0b], (r) => {
        assertEquals([r.kind, r.signo], ["signal", SIGILL]);
      }],
      ["a divide error is SIGFPE", [0x31, 0xc9, 0xf7, 0xf1], (r) => {
        assertEquals([r.kind, r.signo], ["signal", SIGFPE]);
      }],
      ["int3 is SIGTRAP", [0xcc], (r) => {
        assertEquals([r.kind, r.signo], ["signal", SIGTRAP]);
      }],
    ];
  for (const [desc, code, check] of faults) {
    test(desc, async () => {
      const { p, as, regs } = setup(name, code);
      try {
        check(await p.newContext().switch(as, regs));
      } finally {
        p.release();
      }
    });
  }

  test("a task resumes after a trap with the registers the Sentry gives it", async () => {
    // int3 ; mov eax, 39 ; syscall
    const { p, as, regs } = setup(name, [0xcc, ...sys(39)]);
    const ctx = p.newContext();
    try {
      regs.r[R.rbx] = 0xabcn;
      const r = await ctx.switch(as, regs);
      assertEquals([r.kind, regs.rip, regs.r[R.rbx]], ["signal", CODE + 1n, 0xabcn]);
      regs.r[R.rbx] = 0xdefn;
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals([regs.rip, regs.r[R.rbx]], [CODE + 8n, 0xdefn]);
    } finally {
      p.release();
    }
  });

  test("the FPU state goes both ways, and neither side's buffer is the task's", async () => {
    const XMM0 = 160, XMM1 = 176;
    const movqRdiXmm0 = [0x66, 0x48, 0x0f, 0x7e, 0xc7];
    const movqRdiXmm1 = [0x66, 0x48, 0x0f, 0x7e, 0xcf];
    const movRaxImm = [0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11];
    const movqXmm1Rax = [0x66, 0x48, 0x0f, 0x6e, 0xc8];
    const { p, as, regs } = setup(name, [
      ...movqRdiXmm0,
      ...sys(39),
      ...movRaxImm,
      ...movqXmm1Rax,
      ...sys(39),
      ...movqRdiXmm1,
      ...sys(39),
    ]);
    const ctx = p.newContext();
    const xmm = (b: Uint8Array, at: number) =>
      new DataView(b.buffer, b.byteOffset).getBigUint64(at, true);
    try {
      // What setFpState is given reaches the task, though the caller reuses its buffer at once.
      const mine = ctx.fpState().slice();
      const v = new DataView(mine.buffer);
      v.setBigUint64(XMM0, 0x0102_0304_0506_0708n, true);
      // A whole XSAVE area restores SSE state only where its header says it holds some.
      if (mine.length > 512) v.setBigUint64(512, v.getBigUint64(512, true) | 2n, true);
      ctx.setFpState(mine);
      mine.fill(0xff);
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.r[R.rdi], 0x0102_0304_0506_0708n);
      // What the task computed comes back, and changing those bytes does not change the task.
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      const back = ctx.fpState();
      assertEquals(xmm(back, XMM1), 0x1122_3344_5566_7788n);
      back.fill(0xee, XMM1, XMM1 + 16);
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.r[R.rdi], 0x1122_3344_5566_7788n);
    } finally {
      p.release();
    }
  });

  test("mapFile and unmap are honoured", async () => {
    // mov rax, [DATA] ; mov edi, eax ; mov eax, 39 ; syscall ; jmp back to the start
    const code = [0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00, 0x89, 0xc7, ...sys(39)];
    code.push(0xeb, (256 - (code.length + 2)) & 0xff);
    const { mf, p, as, regs, data } = setup(name, code);
    const ctx = p.newContext();
    try {
      mf.write(data, new Uint8Array([0x11, 0, 0, 0]));
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.arg(0), 0x11n);
      // Another page at the same address.
      const other = mf.allocate(4096n);
      mf.write(other, new Uint8Array([0x22, 0, 0, 0]));
      as.mapFile(DATA, 4096n, other, PROT_READ);
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.arg(0), 0x22n);
      as.unmap(DATA, 4096n);
      const r = await ctx.switch(as, regs);
      assertEquals([r.kind, r.kind === "fault" ? r.addr : 0n], ["fault", DATA]);
    } finally {
      p.release();
    }
  });

  test("write rights taken away and given back over the same page are honoured", async () => {
    // mov dword [DATA+16], 7 ; mov eax, 39 ; syscall ; jmp back to the start
    const store = [0xc7, 0x04, 0x25, 0x10, 0x00, 0x50, 0x00, 7, 0, 0, 0];
    const code = [...store, ...sys(39)];
    code.push(0xeb, (256 - (code.length + 2)) & 0xff);
    const { mf, p, as, regs, data } = setup(name, code);
    const ctx = p.newContext();
    try {
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      as.mapFile(DATA, 4096n, data, PROT_READ);
      const r = await ctx.switch(as, regs);
      assertEquals([r.kind, r.kind === "fault" ? r.addr : 0n], ["fault", DATA + 16n]);
      assertEquals(regs.rip, CODE);
      mf.write(data + 16n, new Uint8Array([0]));
      as.mapFile(DATA, 4096n, data, PROT_READ | PROT_WRITE);
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      const b = new Uint8Array(1);
      mf.read(data + 16n, b);
      assertEquals(b[0], 7);
    } finally {
      p.release();
    }
  });

  test("memory written by the application is seen in the memory file", async () => {
    // mov dword [DATA+16], 0xdeadbeef ; mov eax, 39 ; syscall
    const { mf, p, as, regs, data } = setup(name, [
      0xc7,
      0x04,
      0x25,
      0x10,
      0x00,
      0x50,
      0x00,
      0xef,
      0xbe,
      0xad,
      0xde,
      ...sys(39),
    ]);
    try {
      assertEquals((await p.newContext().switch(as, regs)).kind, "syscall");
      const b = new Uint8Array(4);
      mf.read(data + 16n, b);
      assertEquals(new DataView(b.buffer).getUint32(0, true), 0xdeadbeef);
    } finally {
      p.release();
    }
  });

  test("the FS base is the task's, and a change between switches is honoured", async () => {
    // mov rax, fs:[0] ; mov edi, eax ; mov eax, 39 ; syscall ; jmp back to the start
    const code = [0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x89, 0xc7, ...sys(39)];
    code.push(0xeb, (256 - (code.length + 2)) & 0xff);
    const { mf, p, as, regs, data } = setup(name, code);
    const ctx = p.newContext();
    try {
      mf.write(data, new Uint8Array([0x55, 0, 0, 0, 0, 0, 0, 0, 0x66]));
      regs.r[R.fs_base] = DATA;
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.arg(0), 0x55n);
      regs.r[R.fs_base] = DATA + 8n;
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.arg(0), 0x66n);
    } finally {
      p.release();
    }
  });

  test("interrupt stops a spinning task, which then resumes where the Sentry says", async () => {
    const { p, as, regs } = setup(name, [0xeb, 0xfe, ...sys(39)]); // jmp . ; then a syscall
    const ctx = p.newContext();
    try {
      const timer = setTimeout(() => ctx.interrupt(), 50);
      const r = await ctx.switch(as, regs);
      clearTimeout(timer);
      assertEquals(r.kind, "interrupted");
      assertEquals(regs.rip, CODE);
      regs.rip = CODE + 2n;
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.rip, CODE + 9n);
    } finally {
      p.release();
    }
  });

  test("two tasks run at the same time", async () => {
    // A and B hand a token back and forth through memory, ROUNDS times, without a system
    // call: done in milliseconds when both run at once, never if only one runs at a time
    // (each hand-over would wait for a preemption).
    const ROUNDS = 20_000;
    const code = new Array(0x300).fill(0xcc);
    const imm32 = (v: number | bigint) =>
      [0, 8, 16, 24].map((s) => Number(BigInt(v) >> BigInt(s)) & 0xff);
    const store = (addr: bigint, v: number) => [0xc7, 0x04, 0x25, ...imm32(addr), ...imm32(v)];
    const cmp1 = (addr: bigint) => [0x83, 0x3c, 0x25, ...imm32(addr), 1];
    const ping = DATA, pong = DATA + 4n;
    const loop = [0xff, 0xc9, 0x75, 0xdc]; // dec ecx ; jnz back to the loop's head (offset 5)
    const a = [0xb9, ...imm32(ROUNDS), ...store(ping, 1), ...cmp1(pong), 0x75, 0xf6];
    a.push(...store(pong, 0), ...loop, ...sys(39));
    const b = [0xb9, ...imm32(ROUNDS), ...cmp1(ping), 0x75, 0xf6, ...store(ping, 0)];
    b.push(...store(pong, 1), ...loop, ...sys(39));
    code.splice(0x100, a.length, ...a);
    code.splice(0x200, b.length, ...b);
    const { p, as, regs } = setup(name, code);
    const ctxA = p.newContext(), ctxB = p.newContext();
    const regsB = new Registers();
    regsB.r.set(regs.r);
    regs.rip = CODE + 0x100n;
    regsB.rip = CODE + 0x200n;
    regsB.rsp = DATA + 2048n;
    const timer = setTimeout(() => (ctxA.interrupt(), ctxB.interrupt()), 10_000);
    try {
      const [ra, rb] = await Promise.all([ctxA.switch(as, regs), ctxB.switch(as, regsB)]);
      assertEquals([ra.kind, rb.kind], ["syscall", "syscall"]);
      assertEquals([regs.rip, regsB.rip], [
        CODE + 0x100n + BigInt(a.length),
        CODE + 0x200n + BigInt(b.length),
      ]);
    } finally {
      clearTimeout(timer);
      p.release();
    }
  });
}

Deno.test("kvm: a missing device is reported with its path", () => {
  const mf = new MemoryFile(1n << 20n);
  try {
    new KvmPlatform(mf, "/nonexistent/kvm").release();
    throw new Error("no error");
  } catch (e) {
    assertEquals(String(e).includes("open /nonexistent/kvm: ENOENT"), true, String(e));
  }
});

Deno.test({
  name: "kvm: a process cannot read the registers another process saves on a shared vCPU",
  ignore: unavailable("kvm") !== null,
  fn: async () => {
    const mf = new MemoryFile(1n << 30n);
    const p = new KvmPlatform(mf);
    try {
      const space = (code: number[]) => {
        const as = p.newAddressSpace();
        const off = mf.allocate(4096n);
        mf.write(off, new Uint8Array(code));
        as.mapFile(CODE, 4096n, off, PROT_READ | PROT_EXEC);
        as.mapFile(DATA, 4096n, mf.allocate(4096n), PROT_READ | PROT_WRITE);
        return as;
      };
      const regsAt = (rbx: bigint) => {
        const regs = userRegs();
        regs.r[R.rbx] = rbx;
        return regs;
      };
      // Process A runs on vCPU 0 once, so its address space maps vCPU 0's user pages.
      const a = space(sys(39));
      const x = p.newContext();
      assertEquals((await x.switch(a, regsAt(0xa0an))).kind, "syscall");
      x.release();
      // Process B's task now holds vCPU 0 and has saved its registers there.
      const y = p.newContext();
      assertEquals((await y.switch(space(sys(39)), regsAt(0xb0bn))).kind, "syscall");
      // Another task of A, on vCPU 1, reads where vCPU 0's saved rbx sits in A's mapping:
      // movabs rax, [addr] ; mov rdi, rax ; syscall
      const addr = USER_PAGES_BASE + 4096n + BigInt(8 * R.rbx);
      const read = [
        0x48,
        0xa1,
        ...[0, 8, 16, 24, 32, 40, 48, 56].map((s) => Number((addr >> BigInt(s)) & 0xffn)),
      ];
      const z = p.newContext();
      const codeZ = [...read, 0x48, 0x89, 0xc7, ...sys(39)];
      const offZ = mf.allocate(4096n);
      mf.write(offZ, new Uint8Array(codeZ));
      a.mapFile(CODE + 4096n, 4096n, offZ, PROT_READ | PROT_EXEC);
      const regsZ = regsAt(0n);
      regsZ.rip = CODE + 4096n;
      assertEquals((await z.switch(a, regsZ)).kind, "syscall");
      assertEquals(regsZ.arg(0) === 0xb0bn, false, "B's rbx is readable from A");
      y.release();
      z.release();
    } finally {
      p.release();
    }
  },
});

// The ptrace platform's batches travel in the stub control thread's registers, 16 ops a stop.
Deno.test({
  name: "ptrace: batches of any size reach the stub, and refused ops are reported",
  ignore: unavailable("ptrace") !== null,
  async fn() {
    // mov rax, [DATA + 39 * 4096 + 8] ; mov edi, eax ; mov eax, 60 ; syscall
    const last = DATA + 0x1000n + 39n * 4096n;
    const load = [
      0x48,
      0x8b,
      0x04,
      0x25,
      ...new Uint8Array(new Uint32Array([Number(last + 8n)]).buffer),
    ];
    const { mf, p, as, regs } = setup("ptrace", [...load, 0x89, 0xc7, ...sys(60)]);
    const ctx = p.newContext();
    try {
      // 40 pages mapped one by one (three stops), the last holding the answer, with unmaps
      // between so that order matters.
      for (let i = 0n; i < 40n; i++) {
        const off = mf.allocate(4096n);
        const page = new Uint8Array(4096);
        new DataView(page.buffer).setBigUint64(8, 1000n + i, true);
        mf.write(off, page);
        as.unmap(DATA + 0x1000n + i * 4096n, 4096n);
        as.mapFile(DATA + 0x1000n + i * 4096n, 4096n, off, PROT_READ);
      }
      assertEquals((await ctx.switch(as, regs)).kind, "syscall");
      assertEquals(regs.sysno, 60);
      assertEquals(regs.arg(0), 1039n);
      // The host refuses a mapping at 0 (below mmap_min_addr, and the stub has no
      // capabilities): the switch says which op failed, and the task cannot go on.
      as.mapFile(0n, 4096n, 0n, PROT_READ);
      const r = await ctx.switch(as, regs);
      assertEquals(r.kind, "lost");
      assertEquals(/mmap 0x0\+0x1000 failed: -1\b/.test((r as { reason: string }).reason), true);
      // A mapping over the stub's own page never reaches the host.
      as.mapFile(0x7fff_ffff_e000n, 4096n, 0n, PROT_READ);
      const s = await ctx.switch(as, regs);
      assertEquals(s.kind, "lost");
      assertEquals(/reaches the stub/.test((s as { reason: string }).reason), true);
    } finally {
      p.release();
    }
  },
});
