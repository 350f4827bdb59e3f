/**
 * The stub: a tiny static ELF whose bytes the Sentry holds (DESIGN.md). It is the host process
 * that an application address space lives in. It only ever runs code we put in it:
 *
 * - at its entry, it confines itself before the Sentry lets any application code run in it:
 *   no_new_privs, an empty capability bounding set, no capabilities, and a seccomp filter
 *   (stubFilter) that every thread cloned later inherits;
 * - then a loop that waits (pause) to be attached;
 * - a `syscall; int3` pair at which the Sentry injects single host system calls (relocation,
 *   clone of a thread, exit of a thread, and in the template stub the fork of a new stub);
 * - a batch loop that makes a batch of address-space changes in one stop. The batch is in the
 *   control thread's registers (r12 = count, XMM0-15 = one op each, see encodeOp), which no
 *   application thread can read or write: nothing the application can touch is ever read by
 *   code that makes host system calls.
 *
 * @module
 */

import { buildFilter, SeccompRet, type SyscallRule } from "../../host/seccomp.ts";
import { elfHeadersSize, PF_R, PF_X, writeElfHeaders } from "../../host/elf_image.ts";
import { SYS } from "../../abi/linux/syscalls.ts";

/** Where the stub's code lives in the application's address space once it is relocated. */
export const STUB_ADDR = 0x7fff_ffff_e000n;
/** The highest application address plus one: everything from the stub's page up is ours. */
export const MAX_USER_ADDRESS = STUB_ADDR;
/** Host TASK_SIZE on x86-64 with 4-level paging. */
export const TASK_SIZE = 0x7fff_ffff_f000n;
/** Where the host loads the stub ELF before relocation. */
const LOAD_ADDR = 0x1000_0000n;

const CODE_OFFSET = elfHeadersSize(1);

/** The memory file's descriptor number inside every stub. */
export const STUB_MEMORY_FD = 3;
/** mmap flags of every mapping the stub makes. */
export const STUB_MAP_FLAGS = 0x11; // MAP_SHARED | MAP_FIXED
/**
 * A host thread sharing everything with the control thread (CLONE_VM, FS, FILES, SIGHAND,
 * THREAD, SYSVSEM), as a thread of the same process.
 */
export const THREAD_CLONE_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;
/**
 * A new stub process copied from the template stub (CLONE_PARENT | SIGCHLD): a fork whose
 * parent is the Sentry, which traces it from birth (PTRACE_O_TRACEFORK) and reaps it. The
 * Sentry itself may then make no process at all (host/filters.ts).
 */
export const FORK_CLONE_FLAGS = 0x8000 | 17;

/** Ops one batch stop can carry: one per XMM register. */
export const BATCH_MAX = 16;
/** Word 0 of an op: set for munmap (the low 12 bits of a page address are free). */
export const OP_MUNMAP = 8n;
/** The largest length or file offset an op can carry, in pages (32 bits of word 1 each). */
export const OP_MAX_PAGES = 0xffff_ffffn;

/**
 * The only host system calls the stub may make once confined, with their arguments where
 * they can be checked: whatever the application did to a stub thread's registers or memory,
 * the host kills the stub rather than run anything else. The application's own system calls
 * never get here: PTRACE_SYSEMU stops them before seccomp is consulted.
 */
export const STUB_RULES: readonly SyscallRule[] = [
  {
    nr: SYS.mmap,
    when: [[
      { arg: 2, value: 0n, mask: ~7n & 0xffff_ffff_ffff_ffffn }, // PROT_READ|WRITE|EXEC at most
      { arg: 3, value: BigInt(STUB_MAP_FLAGS) },
      { arg: 4, value: BigInt(STUB_MEMORY_FD) },
    ]],
  },
  { nr: SYS.munmap },
  {
    nr: SYS.clone,
    when: [
      [{ arg: 0, value: BigInt(THREAD_CLONE_FLAGS) }],
      [{ arg: 0, value: BigInt(FORK_CLONE_FLAGS) }],
    ],
  },
  { nr: SYS.exit },
  { nr: SYS.pause },
];

/**
 * The stub's seccomp filter. Calls through the legacy vsyscall page, which the host kernel
 * would serve itself without a `syscall` instruction (so without a SYSEMU stop), raise SIGSYS
 * instead: the Sentry sees the signal stop and serves the call (sentry/kernel/vsyscall.ts).
 */
export function stubFilter(): Uint8Array<ArrayBuffer> {
  return buildFilter({
    rules: STUB_RULES,
    defaultAction: SeccompRet.KILL_PROCESS,
    vsyscallAction: SeccompRet.TRAP,
  });
}

function le64(v: bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return [...b];
}

// Data placed after the code, in the read-only image (addresses before relocation; only the
// entry code, which runs before relocation, uses them).
const CODE_LEN = 0x153;
const DATA_OFFSET = (CODE_OFFSET + CODE_LEN + 7) & ~7;
/** struct __user_cap_header_struct (version 3, this process) then two empty data structs. */
const CAPS_OFFSET = DATA_OFFSET;
const CAPS_SIZE = 8 + 24;
/** struct sock_fprog, pointing at the filter right after it. */
const FPROG_OFFSET = CAPS_OFFSET + CAPS_SIZE;
const FILTER_OFFSET = FPROG_OFFSET + 16;
const capsAddr = LOAD_ADDR + BigInt(CAPS_OFFSET);
const fprogAddr = LOAD_ADDR + BigInt(FPROG_OFFSET);
const _LINUX_CAPABILITY_VERSION_3 = 0x2008_0522;

// The code, assembled by hand (Intel syntax in the comments; offsets from the code's start).
//
// The batch loop: r12 ops are left; XMM0 holds the next (word 0 low, word 1 high). It takes
// XMM0 apart, moves XMM1-15 down one, and makes the mmap or munmap call. `syscall` preserves
// every register but rax, rcx and r11. On the first failure it stops at `int3` with r12 still
// counting the failed op and rax holding the result; at the end, with r12 = 0.
//
// The entry: prctl(PR_SET_NO_NEW_PRIVS, 1); for every capability the bounding set still has,
// prctl(PR_CAPBSET_DROP) (PR_CAPBSET_READ answers EINVAL past the last one); capset to empty;
// seccomp(SECCOMP_SET_MODE_FILTER, 0, &fprog); then the wait loop. Any failure exits 127, and
// the Sentry, which only uses a stub once it waits in that loop, sees it die.
const CODE = [
  // wait: (+0x0)
  0xb8,
  0x22,
  0x00,
  0x00,
  0x00, // mov    eax,0x22
  0x0f,
  0x05, // syscall
  0xeb,
  0xf7, // jmp    0 <wait>
  // inject: (+0x9)
  0x0f,
  0x05, // syscall
  0xcc, // int3
  // batch: (+0xc)
  0x4d,
  0x85,
  0xe4, // test   r12,r12
  0x0f,
  0x84,
  0x9d,
  0x00,
  0x00,
  0x00, // je     b2 <done>
  0x66,
  0x48,
  0x0f,
  0x7e,
  0xc7, // movq   rdi,xmm0
  0x66,
  0x0f,
  0x73,
  0xd8,
  0x08, // psrldq xmm0,0x8
  0x66,
  0x48,
  0x0f,
  0x7e,
  0xc6, // movq   rsi,xmm0
  0x0f,
  0x28,
  0xc1, // movaps xmm0,xmm1
  0x0f,
  0x28,
  0xca, // movaps xmm1,xmm2
  0x0f,
  0x28,
  0xd3, // movaps xmm2,xmm3
  0x0f,
  0x28,
  0xdc, // movaps xmm3,xmm4
  0x0f,
  0x28,
  0xe5, // movaps xmm4,xmm5
  0x0f,
  0x28,
  0xee, // movaps xmm5,xmm6
  0x0f,
  0x28,
  0xf7, // movaps xmm6,xmm7
  0x41,
  0x0f,
  0x28,
  0xf8, // movaps xmm7,xmm8
  0x45,
  0x0f,
  0x28,
  0xc1, // movaps xmm8,xmm9
  0x45,
  0x0f,
  0x28,
  0xca, // movaps xmm9,xmm10
  0x45,
  0x0f,
  0x28,
  0xd3, // movaps xmm10,xmm11
  0x45,
  0x0f,
  0x28,
  0xdc, // movaps xmm11,xmm12
  0x45,
  0x0f,
  0x28,
  0xe5, // movaps xmm12,xmm13
  0x45,
  0x0f,
  0x28,
  0xee, // movaps xmm13,xmm14
  0x45,
  0x0f,
  0x28,
  0xf7, // movaps xmm14,xmm15
  0x48,
  0x89,
  0xfb, // mov    rbx,rdi
  0x48,
  0x81,
  0xe7,
  0x00,
  0xf0,
  0xff,
  0xff, // and    rdi,0xfffffffffffff000
  0x49,
  0x89,
  0xf1, // mov    r9,rsi
  0x49,
  0xc1,
  0xe9,
  0x20, // shr    r9,0x20
  0x49,
  0xc1,
  0xe1,
  0x0c, // shl    r9,0xc
  0x89,
  0xf6, // mov    esi,esi
  0x48,
  0xc1,
  0xe6,
  0x0c, // shl    rsi,0xc
  0xf6,
  0xc3,
  0x08, // test   bl,0x8
  0x75,
  0x25, // jne    9e <unmap>
  0x89,
  0xda, // mov    edx,ebx
  0x83,
  0xe2,
  0x07, // and    edx,0x7
  0x41,
  0xba,
  0x11,
  0x00,
  0x00,
  0x00, // mov    r10d,0x11
  0x41,
  0xb8,
  0x03,
  0x00,
  0x00,
  0x00, // mov    r8d,0x3
  0xb8,
  0x09,
  0x00,
  0x00,
  0x00, // mov    eax,0x9
  0x0f,
  0x05, // syscall
  0x48,
  0x39,
  0xf8, // cmp    rax,rdi
  0x75,
  0x1c, // jne    b2 <done>
  0x49,
  0xff,
  0xcc, // dec    r12
  0xe9,
  0x6e,
  0xff,
  0xff,
  0xff, // jmp    c <batch>
  // unmap: (+0x9e)
  0xb8,
  0x0b,
  0x00,
  0x00,
  0x00, // mov    eax,0xb
  0x0f,
  0x05, // syscall
  0x48,
  0x85,
  0xc0, // test   rax,rax
  0x75,
  0x08, // jne    b2 <done>
  0x49,
  0xff,
  0xcc, // dec    r12
  0xe9,
  0x5a,
  0xff,
  0xff,
  0xff, // jmp    c <batch>
  // done: (+0xb2)
  0xcc, // int3
  // entry: (+0xb3)
  0xb8,
  0x9d,
  0x00,
  0x00,
  0x00, // mov    eax,0x9d
  0xbf,
  0x26,
  0x00,
  0x00,
  0x00, // mov    edi,0x26
  0xbe,
  0x01,
  0x00,
  0x00,
  0x00, // mov    esi,0x1
  0x31,
  0xd2, // xor    edx,edx
  0x45,
  0x31,
  0xd2, // xor    r10d,r10d
  0x45,
  0x31,
  0xc0, // xor    r8d,r8d
  0x0f,
  0x05, // syscall
  0x48,
  0x85,
  0xc0, // test   rax,rax
  0x75,
  0x74, // jne    145 <fail>
  0x31,
  0xdb, // xor    ebx,ebx
  // capdrop: (+0xd3)
  0xb8,
  0x9d,
  0x00,
  0x00,
  0x00, // mov    eax,0x9d
  0xbf,
  0x17,
  0x00,
  0x00,
  0x00, // mov    edi,0x17
  0x48,
  0x89,
  0xde, // mov    rsi,rbx
  0x0f,
  0x05, // syscall
  0x48,
  0x83,
  0xf8,
  0xea, // cmp    rax,0xffffffffffffffea
  0x74,
  0x22, // je     10a <capset>
  0x48,
  0x85,
  0xc0, // test   rax,rax
  0x78,
  0x58, // js     145 <fail>
  0x74,
  0x14, // je     103 <capnext>
  0xb8,
  0x9d,
  0x00,
  0x00,
  0x00, // mov    eax,0x9d
  0xbf,
  0x18,
  0x00,
  0x00,
  0x00, // mov    edi,0x18
  0x48,
  0x89,
  0xde, // mov    rsi,rbx
  0x0f,
  0x05, // syscall
  0x48,
  0x85,
  0xc0, // test   rax,rax
  0x75,
  0x42, // jne    145 <fail>
  // capnext: (+0x103)
  0xff,
  0xc3, // inc    ebx
  0x83,
  0xfb,
  0x40, // cmp    ebx,0x40
  0x72,
  0xc9, // jb     d3 <capdrop>
  // capset: (+0x10a)
  0xb8,
  0x7e,
  0x00,
  0x00,
  0x00, // mov    eax,0x7e
  ...[0x48, 0xbf, ...le64(capsAddr)], // movabs rdi,CAPS (header; data follows)
  0x48,
  0x8d,
  0x77,
  0x08, // lea    rsi,[rdi+0x8]
  0x0f,
  0x05, // syscall
  0x48,
  0x85,
  0xc0, // test   rax,rax
  0x75,
  0x21, // jne    145 <fail>
  0xb8,
  0x3d,
  0x01,
  0x00,
  0x00, // mov    eax,0x13d
  0xbf,
  0x01,
  0x00,
  0x00,
  0x00, // mov    edi,0x1
  0x31,
  0xf6, // xor    esi,esi
  ...[0x48, 0xba, ...le64(fprogAddr)], // movabs rdx,FPROG
  0x0f,
  0x05, // syscall
  0x48,
  0x85,
  0xc0, // test   rax,rax
  0x0f,
  0x84,
  0xbb,
  0xfe,
  0xff,
  0xff, // je     0 <wait>
  // fail: (+0x145)
  0xb8,
  0x3c,
  0x00,
  0x00,
  0x00, // mov    eax,0x3c
  0xbf,
  0x7f,
  0x00,
  0x00,
  0x00, // mov    edi,0x7f
  0x0f,
  0x05, // syscall
  0x0f,
  0x0b, // ud2
];

/** Offset of the wait loop's `syscall` within the image (and within the relocated page). */
export const WAIT_OFFSET = CODE_OFFSET;
/** Bytes of the wait loop: a stub stopped with rip in it has run its whole entry code. */
export const WAIT_LEN = 9;
/** Offset of the injection `syscall` within the image (and within the relocated page). */
export const INJECT_OFFSET = CODE_OFFSET + 9;
/** Offset of the batch loop within the image (and within the relocated page). */
export const BATCH_OFFSET = CODE_OFFSET + 12;
const ENTRY_OFFSET = CODE_OFFSET + 0xb3;

/** The stub's ELF image; the same bytes are placed in the page mapped at STUB_ADDR. */
export function stubImage(): Uint8Array<ArrayBuffer> {
  if (CODE.length !== CODE_LEN) throw new Error(`stub code is ${CODE.length} bytes`);
  const filter = stubFilter();
  const size = FILTER_OFFSET + filter.length;
  if (size > 4096) throw new Error(`stub image of ${size} bytes does not fit its page`);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  // One segment, read and execute only: the filter and its pointers are read-only too.
  writeElfHeaders(b, LOAD_ADDR + BigInt(ENTRY_OFFSET), [
    { offset: 0, vaddr: LOAD_ADDR, length: size, flags: PF_R | PF_X },
  ]);
  b.set(CODE, CODE_OFFSET);
  v.setUint32(CAPS_OFFSET, _LINUX_CAPABILITY_VERSION_3, true); // pid 0 and the data stay 0
  v.setUint16(FPROG_OFFSET, filter.length / 8, true);
  v.setBigUint64(FPROG_OFFSET + 8, LOAD_ADDR + BigInt(FILTER_OFFSET), true);
  b.set(filter, FILTER_OFFSET);
  return b;
}

/** Address of the injection point before relocation. */
export const INITIAL_INJECT_ADDR = LOAD_ADDR + BigInt(INJECT_OFFSET);
/** Address of the wait loop before relocation. */
export const INITIAL_WAIT_ADDR = LOAD_ADDR + BigInt(WAIT_OFFSET);

/**
 * One batch op as the batch loop reads it from an XMM register: word 0 is the page-aligned
 * address with the protection (mmap) or OP_MUNMAP in its low bits; word 1 the length in pages
 * (low 32 bits) and the memory file offset in pages (high 32 bits). Precondition: everything
 * page-aligned, length and offset within OP_MAX_PAGES pages, prot within PROT_READ|WRITE|EXEC.
 */
export function encodeOp(
  op: { unmap: boolean; addr: bigint; length: bigint; offset: bigint; prot: number },
): [bigint, bigint] {
  const w0 = op.addr | (op.unmap ? OP_MUNMAP : BigInt(op.prot));
  return [w0, (op.length >> 12n) | ((op.offset >> 12n) << 32n)];
}
