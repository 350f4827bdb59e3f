/**
 * nsinit: the tiny init that `runsc create` starts the gofer and the boot under, in place of
 * util-linux `unshare`. It is a static x86-64 ELF image generated here (as the ptrace stub's is,
 * platform/ptrace/stub.ts) and run from a memfd, so that the one process of ours that stays
 * outside the sandbox's PID namespace for the container's whole life is confined too: it keeps
 * no capability, has no_new_privs and a seccomp filter that allows only waiting for its child
 * and ending as the child ended.
 *
 * What it does, with the namespaces baked into the image:
 *
 * - closes every descriptor from the one it was executed through up (the caller maps the
 *   image's memfd there, above every descriptor it passes on);
 * - unshare(2) of the namespaces, then / made MS_REC|MS_PRIVATE, so that no mount of ours
 *   propagates back to the host;
 * - without a new PID namespace: execve of argv[1..] with the environment (nothing is left
 *   behind);
 * - with one: grows its descriptor table to ROOM_FDS (ROOM_HEX), then forks. The child (init
 *   of the new namespace) asks for SIGKILL on its parent's death, checks the parent was not
 *   already gone (a close-on-exec pipe whose write end only the parent holds: a hang-up means
 *   it died), mounts a fresh proc on /proc (the ptrace
 *   platform execs its stubs through /proc before the Sentry pivots) and execs argv[1..]. The
 *   parent sets no_new_privs, makes itself not dumpable with no core file (a sandbox that gets
 *   its init killed by SIGSEGV must not have us write a core into the host's /), empties its
 *   bounding, permitted and effective capabilities, resets signal dispositions and mask,
 *   closes every descriptor but the pipe's write end and the exit record's, installs
 *   nsinitFilter with its own pid patched in, and waits. It ends as its child did:
 *   with the same exit code, or killed by the same signal (docker and containerd read 137 or
 *   143 from it).
 * - with an exit record (the boot's nsinit: `<root>/<id>/exit`, opened write-only by the CLI):
 *   once its child has ended, and before it ends the same way, the parent writes the child's
 *   exit status (its code, or 128 + the signal) as a decimal and a newline, at most `255\n`,
 *   in one write(2) to that descriptor. The child closes it before execve, so the Sentry never
 *   holds a writable host file for its status: it can choose how it ends, not what or how much
 *   is written.
 *
 * Any failing step before confinement writes `runsc-nsinit: <step>: errno N` to stderr and
 * exits 1.
 *
 * @module
 */

import { check, closeFd, cstr, libc, writeAll } from "./libc.ts";
import { buildFilter, SeccompRet, type SyscallRule } from "./seccomp.ts";
import { elfHeadersSize, PF_R, PF_W, PF_X, writeElfHeaders } from "./elf_image.ts";
import { SYS } from "../abi/linux/syscalls.ts";

/** argv[0] of every nsinit process (its exe is the memfd `/memfd:runsc-nsinit`). */
export const NSINIT_ARGV0 = "runsc-nsinit";
/** The memfd's name, as /proc/[pid]/exe shows it. */
export const NSINIT_MEMFD_NAME = "runsc-nsinit";

/** What nsinit unshares. */
export interface NsinitNamespaces {
  /** A new PID namespace: nsinit forks, confines itself and waits for its child. */
  pid: boolean;
  /** A new, empty network namespace. */
  net: boolean;
}

const CLONE_NEWNS = 0x0002_0000;
const CLONE_NEWUTS = 0x0400_0000;
const CLONE_NEWIPC = 0x0800_0000;
const CLONE_NEWPID = 0x2000_0000;
const CLONE_NEWNET = 0x4000_0000;

/** Stands for the waiting parent's pid in the filter until the parent patches it in. */
const PID_PLACEHOLDER = 0x7fff_fffe;

/** The longest exit record nsinit writes (`255\n`). */
export const NSINIT_RECORD_MAX = 4;

/**
 * All the waiting parent may do once confined: wait for its child, and end as the child did.
 * kill only of itself (arg 0 is patched to its own pid at run time): re-raising the signal
 * that killed the child. With an exit record at `exitFd`: write to that descriptor only, of
 * fewer than 8 bytes (a mask's reach; a record is at most NSINIT_RECORD_MAX).
 */
export function nsinitRules(exitFd = -1): SyscallRule[] {
  return [
    { nr: SYS.wait4 },
    { nr: SYS.kill, when: [[{ arg: 0, value: BigInt(PID_PLACEHOLDER) }]] },
    ...(exitFd >= 0
      ? [{
        nr: SYS.write,
        when: [[{ arg: 0, value: BigInt(exitFd) }, {
          arg: 2,
          value: 0n,
          mask: 0xffff_ffff_ffff_fff8n,
        }]],
      }]
      : []),
    { nr: SYS.exit_group },
    { nr: SYS.rt_sigreturn },
    { nr: SYS.restart_syscall },
  ];
}

/** The parent's filter, with PID_PLACEHOLDER where its pid goes; see nsinitRules. */
export function nsinitFilter(exitFd = -1): Uint8Array<ArrayBuffer> {
  return buildFilter({ rules: nsinitRules(exitFd), defaultAction: SeccompRet.KILL_PROCESS });
}

const LOAD_ADDR = 0x1000_0000;
const CODE_OFFSET = elfHeadersSize(2);
/** The writable data page: file offset and address (the code's immediates name it). */
const DATA_OFFSET = 0x1000;
const DATA_ADDR = LOAD_ADDR + DATA_OFFSET;

// The data page, as the code reads it (offsets from DATA_ADDR).
const D_FLAGS = 0x00; // u64: unshare(2) flags
const D_FORK = 0x08; // u64: 1 to fork (a new PID namespace)
const D_EXECFD = 0x10; // u32: the first descriptor to close
const D_CAPHDR = 0x18; // __user_cap_header_struct (version 3, pid 0), then 2 empty data
const D_FPROG = 0x38; // struct sock_fprog pointing at D_FILTER
const D_PIDSLOT = 0x48; // u64: address of the filter's PID_PLACEHOLDER
const S_PROC = 0x50; // "proc"
const S_SLASHPROC = 0x58; // "/proc"
const S_ROOT = 0x60; // "/"
const S_NONE = 0x68; // "none"
// 0x70 pipe fds, 0x78 wait status, 0x80 pollfd, 0x88 struct sigaction (SIG_DFL), 0xa8 empty
// sigset, 0xb0 (D_RLIMIT) struct rlimit {0, 0}, up to 0xcf the errno digits, 0xcf "\n".
const D_POLLFD = 0x80;
const D_NUMEND = 0xcf;
const S_COMM = 0xd0; // NSINIT_ARGV0, its task name (at most 15 bytes and NUL)
const D_EXITFD = 0xe0; // u32: the exit record's descriptor, or 0xffffffff for none
// 0xec up to 0xee the record's digits, 0xef (D_RECEND) its "\n".
const D_RECEND = 0xef;
/** Messages, one per failing step, each in a 48-byte slot: length byte, then text. */
const D_MSGS = 0x100;
const MSG_SLOT = 48;
const MESSAGES = [
  "unshare",
  "making / private",
  "fork",
  "mounting /proc",
  "execve",
  "confining itself",
  "parent death signal",
  "no program given",
];
const D_FILTER = D_MSGS + MESSAGES.length * MSG_SLOT;
const _LINUX_CAPABILITY_VERSION_3 = 0x2008_0522;
const POLLIN = 1;

/** `mov eax, nr` as the code's hex: the call's number comes from the one syscall table. */
const movEax = (nr: number) =>
  "b8" + [0, 8, 16, 24].map((s) => ((nr >> s) & 0xff).toString(16).padStart(2, "0")).join("");

// The code, assembled by hand (Intel syntax; data addresses by their names above, as
// DATA_ADDR + offset; branch targets by label). rbp holds the index of the message for the
// step in progress; `fail` prints it with the errno from -rax and exits 1. `decimal` writes rax
// in decimal into the bytes before the one at rdi (a "\n") and returns the digits and that byte
// as rsi and rdx, for a write: the errno's, and the exit record's.
const CODE_HEX = [
  // _start: (+0x0)
  "4989e7", // mov r15,rsp
  "bd07000000", // mov ebp,0x7
  "48c7c0eaffffff", // mov rax,0xffffffffffffffea
  "49833f02", // cmp QWORD PTR [r15],0x2
  "0f826d030000", // jb fail
  movEax(SYS.close_range), // mov eax,close_range
  "8b3c2510100010", // mov edi,DWORD PTR D_EXECFD
  "beffffffff", // mov esi,0xffffffff
  "31d2", // xor edx,edx
  "0f05", // syscall
  "bd05000000", // mov ebp,0x5
  "4885c0", // test rax,rax
  "0f854a030000", // jne fail
  movEax(SYS.unshare), // mov eax,unshare
  "488b3c2500100010", // mov rdi,QWORD PTR D_FLAGS
  "0f05", // syscall
  "31ed", // xor ebp,ebp
  "4885c0", // test rax,rax
  "0f8530030000", // jne fail
  movEax(SYS.mount), // mov eax,mount
  "bf68100010", // mov edi,S_NONE
  "be60100010", // mov esi,S_ROOT
  "31d2", // xor edx,edx
  "41ba00400400", // mov r10d,0x44000
  "4531c0", // xor r8d,r8d
  "0f05", // syscall
  "bd01000000", // mov ebp,0x1
  "4885c0", // test rax,rax
  "0f8506030000", // jne fail
  "48833c250810001000", // cmp QWORD PTR D_FORK,0x0
  "0f84c4020000", // je exec
  movEax(SYS.pipe2), // mov eax,pipe2
  "bf70100010", // mov edi,D_PIPE
  "be00000800", // mov esi,0x80000
  "0f05", // syscall
  "bd02000000", // mov ebp,0x2
  "4885c0", // test rax,rax
  "0f85d8020000", // jne fail
  movEax(SYS.fork), // mov eax,fork
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f88c8020000", // js fail
  "0f8413020000", // je child
  "4989c5", // mov r13,rax
  "bd05000000", // mov ebp,0x5
  movEax(SYS.prctl), // mov eax,prctl
  "bf26000000", // mov edi,0x26
  "be01000000", // mov esi,0x1
  "31d2", // xor edx,edx
  "4531d2", // xor r10d,r10d
  "4531c0", // xor r8d,r8d
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f8598020000", // jne fail
  movEax(SYS.prctl), // mov eax,prctl
  "bf04000000", // mov edi,0x4
  "31f6", // xor esi,esi
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f8581020000", // jne fail
  movEax(SYS.setrlimit), // mov eax,setrlimit
  "bf04000000", // mov edi,0x4
  "beb0100010", // mov esi,D_RLIMIT
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f8567020000", // jne fail
  "31db", // xor ebx,ebx
  // capdrop: (+0x121)
  movEax(SYS.prctl), // mov eax,prctl
  "bf17000000", // mov edi,0x17
  "89de", // mov esi,ebx
  "0f05", // syscall
  "4883f8ea", // cmp rax,0xffffffffffffffea
  "7429", // je capset
  "4885c0", // test rax,rax
  "0f8848020000", // js fail
  "7417", // je capnext
  movEax(SYS.prctl), // mov eax,prctl
  "bf18000000", // mov edi,0x18
  "89de", // mov esi,ebx
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f852f020000", // jne fail
  // capnext: (+0x157)
  "ffc3", // inc ebx
  "83fb40", // cmp ebx,0x40
  "72c3", // jb capdrop
  // capset: (+0x15e)
  movEax(SYS.capset), // mov eax,capset
  "bf18100010", // mov edi,D_CAPHDR
  "be20100010", // mov esi,D_CAPDATA
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f850e020000", // jne fail
  "bb01000000", // mov ebx,0x1
  // sigdfl: (+0x17d)
  movEax(SYS.rt_sigaction), // mov eax,rt_sigaction
  "89df", // mov edi,ebx
  "be88100010", // mov esi,D_SIGACT
  "31d2", // xor edx,edx
  "41ba08000000", // mov r10d,0x8
  "0f05", // syscall
  "ffc3", // inc ebx
  "83fb41", // cmp ebx,0x41
  "72e3", // jb sigdfl
  movEax(SYS.rt_sigprocmask), // mov eax,rt_sigprocmask
  "bf02000000", // mov edi,0x2
  "bea8100010", // mov esi,D_SIGSET
  "31d2", // xor edx,edx
  "41ba08000000", // mov r10d,0x8
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f85ca010000", // jne fail
  movEax(SYS.getpid), // mov eax,getpid
  "0f05", // syscall
  "4989c6", // mov r14,rax
  "488b3c2548100010", // mov rdi,QWORD PTR D_PIDSLOT
  "8907", // mov DWORD PTR [rdi],eax
  "8b1c2574100010", // mov ebx,DWORD PTR D_PIPE+4
  "448b2425e0100010", // mov r12d,DWORD PTR D_EXITFD
  "4183fcff", // cmp r12d,0xffffffff
  "7503", // jne keepsorted
  "4189dc", // mov r12d,ebx
  // keepsorted: (+0x1e8)
  "4439e3", // cmp ebx,r12d
  "7603", // jbe closebelow
  "4487e3", // xchg ebx,r12d
  // closebelow: (+0x1f0)
  "85db", // test ebx,ebx
  "740e", // je closebetween
  movEax(SYS.close_range), // mov eax,close_range
  "31ff", // xor edi,edi
  "8d73ff", // lea esi,[rbx-0x1]
  "31d2", // xor edx,edx
  "0f05", // syscall
  // closebetween: (+0x202)
  movEax(SYS.close_range), // mov eax,close_range
  "8d7b01", // lea edi,[rbx+0x1]
  "418d7424ff", // lea esi,[r12-0x1]
  "31d2", // xor edx,edx
  "0f05", // syscall
  // closeabove: (+0x213)
  movEax(SYS.close_range), // mov eax,close_range
  "418d7c2401", // lea edi,[r12+0x1]
  "beffffffff", // mov esi,0xffffffff
  "31d2", // xor edx,edx
  "0f05", // syscall
  movEax(SYS.seccomp), // mov eax,seccomp
  "bf01000000", // mov edi,0x1
  "31f6", // xor esi,esi
  "ba38100010", // mov edx,D_FPROG
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f8544010000", // jne fail
  // wait: (+0x242)
  movEax(SYS.wait4), // mov eax,wait4
  "4c89ef", // mov rdi,r13
  "be78100010", // mov esi,D_STATUS
  "31d2", // xor edx,edx
  "4531d2", // xor r10d,r10d
  "0f05", // syscall
  "4883f8fc", // cmp rax,0xfffffffffffffffc
  "74e6", // je wait
  "4885c0", // test rax,rax
  "786a", // js exit1
  "8b042578100010", // mov eax,DWORD PTR D_STATUS
  "89c6", // mov esi,eax
  "83e67f", // and esi,0x7f
  "7508", // jne statussig
  "c1e808", // shr eax,0x8
  "0fb6d8", // movzx ebx,al
  "eb06", // jmp record
  // statussig: (+0x277)
  "8d9e80000000", // lea ebx,[rsi+0x80]
  // record: (+0x27d)
  "8b3c25e0100010", // mov edi,DWORD PTR D_EXITFD
  "83ffff", // cmp edi,0xffffffff
  "741a", // je endlike
  "89d8", // mov eax,ebx
  "bfef100010", // mov edi,D_RECEND
  "e838010000", // call decimal
  "8b3c25e0100010", // mov edi,DWORD PTR D_EXITFD
  movEax(SYS.write), // mov eax,write
  "0f05", // syscall
  // endlike: (+0x2a3)
  "8b342578100010", // mov esi,DWORD PTR D_STATUS
  "83e67f", // and esi,0x7f
  "7509", // jne signaled
  "89df", // mov edi,ebx
  movEax(SYS.exit_group), // mov eax,exit_group
  "0f05", // syscall
  // signaled: (+0x2b8)
  "4c89f7", // mov rdi,r14
  movEax(SYS.kill), // mov eax,kill
  "0f05", // syscall
  "89df", // mov edi,ebx
  movEax(SYS.exit_group), // mov eax,exit_group
  "0f05", // syscall
  // exit1: (+0x2cb)
  "bf01000000", // mov edi,0x1
  movEax(SYS.exit_group), // mov eax,exit_group
  "0f05", // syscall
  // child: (+0x2d7)
  "bd06000000", // mov ebp,0x6
  movEax(SYS.prctl), // mov eax,prctl
  "bf01000000", // mov edi,0x1
  "be09000000", // mov esi,0x9
  "0f05", // syscall
  "4885c0", // test rax,rax
  "0f8590000000", // jne fail
  movEax(SYS.close), // mov eax,close
  "8b3c2574100010", // mov edi,DWORD PTR D_PIPE+4
  "0f05", // syscall
  "8b042570100010", // mov eax,DWORD PTR D_PIPE
  "89042580100010", // mov DWORD PTR D_POLLFD,eax
  movEax(SYS.poll), // mov eax,poll
  "bf80100010", // mov edi,D_POLLFD
  "be01000000", // mov esi,0x1
  "31d2", // xor edx,edx
  "0f05", // syscall
  "4885c0", // test rax,rax
  "7555", // jne parentgone
  movEax(SYS.mount), // mov eax,mount
  "bf50100010", // mov edi,S_PROC
  "be58100010", // mov esi,S_SLASHPROC
  "ba50100010", // mov edx,S_PROC
  "41ba0e000000", // mov r10d,0xe
  "4531c0", // xor r8d,r8d
  "0f05", // syscall
  "bd03000000", // mov ebp,0x3
  "4885c0", // test rax,rax
  "7533", // jne fail
  // exec: (+0x353)
  movEax(SYS.close), // mov eax,close
  "8b3c25e0100010", // mov edi,DWORD PTR D_EXITFD
  "0f05", // syscall
  "498b7f10", // mov rdi,QWORD PTR [r15+0x10]
  "498d7710", // lea rsi,[r15+0x10]
  "498b07", // mov rax,QWORD PTR [r15]
  "498d54c710", // lea rdx,[r15+rax*8+0x10]
  movEax(SYS.execve), // mov eax,execve
  "0f05", // syscall
  "bd04000000", // mov ebp,0x4
  "eb07", // jmp fail
  // parentgone: (+0x37f)
  "48c7c0fdffffff", // mov rax,0xfffffffffffffffd
  // fail: (+0x386)
  "4989c4", // mov r12,rax
  "49f7dc", // neg r12
  "6bf530", // imul esi,ebp,0x30
  "81c600110010", // add esi,D_MSGS
  "0fb616", // movzx edx,BYTE PTR [rsi]
  "ffc6", // inc esi
  "bf02000000", // mov edi,0x2
  movEax(SYS.write), // mov eax,write
  "0f05", // syscall
  "4c89e0", // mov rax,r12
  "bfcf100010", // mov edi,D_NUMEND
  "e81a000000", // call decimal
  "bf02000000", // mov edi,0x2
  movEax(SYS.write), // mov eax,write
  "0f05", // syscall
  "bf01000000", // mov edi,0x1
  movEax(SYS.exit_group), // mov eax,exit_group
  "0f05", // syscall
  "0f0b", // ud2
  // decimal: (+0x3cd)
  "4c8d4f01", // lea r9,[rdi+0x1]
  "b90a000000", // mov ecx,0xa
  // digit: (+0x3d6)
  "31d2", // xor edx,edx
  "48f7f1", // div rcx
  "80c230", // add dl,0x30
  "48ffcf", // dec rdi
  "8817", // mov BYTE PTR [rdi],dl
  "4885c0", // test rax,rax
  "75ee", // jne digit
  "4889fe", // mov rsi,rdi
  "4c89ca", // mov rdx,r9
  "4829f2", // sub rdx,rsi
  "c3", // ret
];

// The entry: names the task (prctl PR_SET_NAME; its failure changes nothing), then jumps to
// _start. Executed through a descriptor, nsinit's name would otherwise be that descriptor's
// number, which tells a reader of `ps` nothing.
const ENTRY_HEX = [
  movEax(SYS.prctl), // mov eax,prctl
  "bf0f000000", // mov edi,0xf
  "bed0100010", // mov esi,S_COMM
  "0f05", // syscall
];

/** The descriptor table the child starts with (see ROOM_HEX). */
const ROOM_FDS = 4096;
const F_DUPFD_CLOEXEC = 1030;

/**
 * Called in place of the `mov eax,pipe2` before the fork. While nsinit is single-threaded it
 * grows its descriptor table to ROOM_FDS slots (F_DUPFD_CLOEXEC of stderr to the last one; a
 * failure changes nothing), so that the child, whose table fork copies up to the highest open
 * descriptor, hands the boot or the Gofer that room through execve. A Deno process's threads
 * share its table, and Linux grows a shared table only after an RCU grace period (8-26 ms
 * measured here) with the opening thread stopped: every task of a Sentry stalled so at its
 * 65th, 129th... host descriptor. The duplicate is close-on-exec (the child's execve drops it)
 * and the parent closes it with the rest. It ends as the instruction it replaces would:
 * eax = pipe2, and rdx back to the 0 it held.
 */
const ROOM_HEX = [
  movEax(SYS.fcntl), // mov eax,fcntl
  "bf02000000", // mov edi,0x2
  "be" + le32(F_DUPFD_CLOEXEC), // mov esi,F_DUPFD_CLOEXEC
  "ba" + le32(ROOM_FDS - 1), // mov edx,ROOM_FDS-1
  "0f05", // syscall
  "31d2", // xor edx,edx
  movEax(SYS.pipe2), // mov eax,pipe2
  "c3", // ret
];

/** A 32-bit little-endian immediate as hex. */
function le32(v: number): string {
  return [0, 8, 16, 24].map((s) => ((v >> s) & 0xff).toString(16).padStart(2, "0")).join("");
}

/**
 * CODE_HEX then ENTRY_HEX and its jump back to _start, then ROOM_HEX, called from where
 * CODE_HEX loads pipe2's number; returns the code and the entry offset.
 */
function nsinitCode(): { code: Uint8Array; entry: number } {
  const bytes = (hex: string[]) => hex.join("").match(/../g)!.map((h) => parseInt(h, 16));
  const body = bytes(CODE_HEX);
  const entry = [...bytes(ENTRY_HEX), 0xe9, 0, 0, 0, 0]; // jmp rel32 _start
  const jmpEnd = body.length + entry.length;
  const rel = new Uint8Array(4);
  new DataView(rel.buffer).setInt32(0, -jmpEnd, true);
  entry.splice(entry.length - 4, 4, ...rel);
  // `mov eax,pipe2` (5 bytes) becomes `call rel32 room` (5 bytes): nothing else moves.
  const at = CODE_HEX.indexOf(movEax(SYS.pipe2));
  const callAt = bytes(CODE_HEX.slice(0, at)).length;
  const room = body.length + entry.length;
  const call = new Uint8Array(5);
  call[0] = 0xe8;
  new DataView(call.buffer).setInt32(1, room - (callAt + 5), true);
  body.splice(callAt, 5, ...call);
  return { code: new Uint8Array([...body, ...entry, ...bytes(ROOM_HEX)]), entry: body.length };
}

/**
 * nsinit's ELF image for `ns`. `execFd`: the descriptor it is executed through, above every
 * descriptor its program gets; it closes that one and all above. `exitFd` (below `execFd`, with
 * a PID namespace only; -1 for none): where the parent writes its child's exit status.
 */
export function nsinitImage(
  ns: NsinitNamespaces,
  execFd: number,
  exitFd = -1,
): Uint8Array<ArrayBuffer> {
  if (exitFd >= 0 && (!ns.pid || exitFd >= execFd)) {
    throw new Error(
      `nsinit: an exit record needs a PID namespace and a descriptor below ${execFd}`,
    );
  }
  const { code, entry } = nsinitCode();
  const filter = nsinitFilter(exitFd);
  const codeEnd = CODE_OFFSET + code.length;
  const size = DATA_OFFSET + D_FILTER + filter.length;
  if (codeEnd > DATA_OFFSET || size > DATA_OFFSET + 4096) {
    throw new Error(`nsinit image does not fit: ${code.length} + ${filter.length} bytes`);
  }
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  // The code, read-only; the data page, writable (pipe, status, the filter's pid), not
  // executable.
  writeElfHeaders(b, BigInt(LOAD_ADDR + CODE_OFFSET + entry), [
    { offset: 0, vaddr: BigInt(LOAD_ADDR), length: codeEnd, flags: PF_R | PF_X },
    {
      offset: DATA_OFFSET,
      vaddr: BigInt(DATA_ADDR),
      length: size - DATA_OFFSET,
      flags: PF_R | PF_W,
    },
  ]);
  b.set(code, CODE_OFFSET);

  const d = DATA_OFFSET;
  let flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  if (ns.net) flags |= CLONE_NEWNET;
  if (ns.pid) flags |= CLONE_NEWPID;
  v.setBigUint64(d + D_FLAGS, BigInt(flags), true);
  v.setBigUint64(d + D_FORK, ns.pid ? 1n : 0n, true);
  v.setUint32(d + D_EXECFD, execFd, true);
  v.setUint32(d + D_EXITFD, exitFd >= 0 ? exitFd : 0xffff_ffff, true);
  b[d + D_RECEND] = 0x0a;
  v.setUint32(d + D_CAPHDR, _LINUX_CAPABILITY_VERSION_3, true);
  v.setUint16(d + D_FPROG, filter.length / 8, true);
  v.setBigUint64(d + D_FPROG + 8, BigInt(DATA_ADDR + D_FILTER), true);
  const fv = new DataView(filter.buffer);
  const slots: number[] = [];
  for (let k = 4; k < filter.length; k += 8) {
    if (fv.getUint32(k, true) === PID_PLACEHOLDER) slots.push(k);
  }
  if (slots.length !== 1) throw new Error("nsinit filter: the pid placeholder is not unique");
  v.setBigUint64(d + D_PIDSLOT, BigInt(DATA_ADDR + D_FILTER + slots[0]), true);
  const text = new TextEncoder();
  for (
    const [at, s] of [
      [S_PROC, "proc"],
      [S_SLASHPROC, "/proc"],
      [S_ROOT, "/"],
      [S_NONE, "none"],
      [S_COMM, NSINIT_ARGV0],
    ] as const
  ) {
    b.set(text.encode(s), d + at); // the page is zeroed: each string ends in NUL
  }
  v.setUint16(d + D_POLLFD + 4, POLLIN, true);
  b[d + D_NUMEND] = 0x0a;
  MESSAGES.forEach((m, i) => {
    const bytes = text.encode(`${NSINIT_ARGV0}: ${m}: errno `);
    if (bytes.length >= MSG_SLOT) throw new Error(`nsinit message too long: ${m}`);
    b[d + D_MSGS + i * MSG_SLOT] = bytes.length;
    b.set(bytes, d + D_MSGS + i * MSG_SLOT + 1);
  });
  b.set(filter, d + D_FILTER);
  return b;
}

const MFD_CLOEXEC = 1;
const executables = new Map<string, number>();

/**
 * A close-on-exec memfd holding nsinit's image for `ns`, `execFd` and `exitFd` (one per process
 * and kind, kept open: the CLI starts at most two).
 */
export function nsinitExecutable(ns: NsinitNamespaces, execFd: number, exitFd = -1): number {
  const key = `${ns.pid}/${ns.net}/${execFd}/${exitFd}`;
  const known = executables.get(key);
  if (known !== undefined) return known;
  const image = nsinitImage(ns, execFd, exitFd);
  const fd = check(
    "memfd_create nsinit",
    libc.symbols.memfd_create(cstr(NSINIT_MEMFD_NAME), MFD_CLOEXEC),
  );
  try {
    writeAll(fd, image);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  executables.set(key, fd);
  return fd;
}
