import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { MemoryFile } from "../../sentry/mm/memory_file.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "../platform.ts";
import { R, Registers } from "../registers.ts";
import { PtracePlatform } from "./ptrace.ts";
import type { Subprocess } from "./subprocess.ts";

const ignore = Deno.uid() !== 0;
if (ignore) console.warn("skipping ptrace platform tests: they need root");

function setup(code: number[]) {
  const mf = new MemoryFile(1n << 30n);
  const p = new PtracePlatform(mf);
  const as = p.newAddressSpace() as Subprocess;
  const off = mf.allocate(4096n);
  mf.write(off, new Uint8Array(code));
  as.mapFile(0x400000n, 4096n, off, PROT_READ | PROT_EXEC);
  const data = mf.allocate(4096n);
  as.mapFile(0x500000n, 4096n, data, PROT_READ | PROT_WRITE);
  const regs = new Registers();
  regs.copyFrom(as.initRegs);
  regs.rip = 0x400000n;
  regs.rsp = 0x501000n;
  return { mf, p, as, regs, ctx: p.newContext(), data };
}

Deno.test({
  name: "ptrace: system calls stop in the Sentry with their number and arguments",
  ignore,
  async fn() {
    // mov eax,110 ; syscall ; mov edi,eax ; mov eax,60 ; syscall
    const { p, as, regs, ctx } = setup([
      0xb8,
      110,
      0,
      0,
      0,
      0x0f,
      0x05,
      0x89,
      0xc7,
      0xb8,
      60,
      0,
      0,
      0,
      0x0f,
      0x05,
    ]);
    try {
      let r = await ctx.switch(as, regs);
      assertEquals(r.kind, "syscall");
      assertEquals(regs.sysno, 110);
      regs.setReturn(4242n);
      r = await ctx.switch(as, regs);
      assertEquals(r.kind, "syscall");
      assertEquals(regs.sysno, 60);
      assertEquals(regs.arg(0), 4242n);
    } finally {
      p.release();
    }
  },
});

Deno.test({
  name: "ptrace: a bad access is reported as a fault with its address",
  ignore,
  async fn() {
    // mov rax, [0x12345678]
    const { p, as, regs, ctx } = setup([0x48, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12]);
    try {
      const r = await ctx.switch(as, regs);
      assertEquals(r.kind, "fault");
      if (r.kind === "fault") assertEquals(r.addr, 0x12345678n);
    } finally {
      p.release();
    }
  },
});

Deno.test({
  name: "ptrace: interrupt stops a spinning task",
  ignore,
  async fn() {
    const { p, as, regs, ctx } = setup([0xeb, 0xfe]); // jmp .
    try {
      setTimeout(() => ctx.interrupt(), 50);
      const r = await ctx.switch(as, regs);
      assertEquals(r.kind, "interrupted");
      assertEquals(regs.r[R.rip], 0x400000n);
    } finally {
      p.release();
    }
  },
});

Deno.test({
  name: "ptrace: memory written by the task is seen in the memory file",
  ignore,
  async fn() {
    // mov dword [0x500010], 0xdeadbeef ; mov eax, 39 ; syscall
    const { mf, p, as, regs, ctx, data } = setup([
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
      0xb8,
      39,
      0,
      0,
      0,
      0x0f,
      0x05,
    ]);
    try {
      const r = await ctx.switch(as, regs);
      assertEquals(r.kind, "syscall");
      const b = new Uint8Array(4);
      mf.read(data + 16n, b);
      assertEquals(new DataView(b.buffer).getUint32(0, true), 0xdeadbeef);
    } finally {
      p.release();
    }
  },
});
