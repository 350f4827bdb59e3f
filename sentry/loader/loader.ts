/**
 * Loading a program into a fresh address space: find the executable through the container's
 * filesystem, map it, and build the initial stack and registers.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import { R, type Registers } from "../../platform/registers.ts";
import { type ExecContext, isExecutable, type OpenExecutable, openExecutable } from "../fs/exec.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Task } from "../kernel/task.ts";
import { FsContext } from "../vfs/fs_context.ts";
import { credsOf } from "../vfs/inode.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { SysError } from "../../abi/linux/error.ts";
import { elfSpan, loadElf, parseElf } from "./elf.ts";
import { setupStack } from "./stack.ts";
import { AT } from "../../abi/linux/elf.ts";
import { byteLength, decodeBytes } from "../../host/utf8b.ts";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface LoadRequest {
  /** The executable's path as given (absolute, or relative to cwd). */
  path: string;
  argv: string[];
  envp: string[];
  cwd: string;
  uid: number;
  gid: number;
  /** The task that execs: paths resolve from its root and working directory, as it. */
  task?: Task;
}

export interface LoadResult {
  /** Canonical path of the executable (for /proc/self/exe). */
  exe: string;
  /** argv as the program sees it (an interpreter's line prepended for scripts). */
  argv: string[];
}

/**
 * Finds `name` the way execvp does: a name with a slash is used as is; otherwise each PATH
 * directory is tried in order. Returns the path to execute.
 */
export function lookPath(k: Kernel, name: string, env: string[], cwd: string): string {
  if (name.includes("/")) return name;
  const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  let lastErr: number = Errno.ENOENT;
  for (const dir of pathVar.split(":")) {
    const candidate = `${dir === "" ? "." : dir}/${name}`;
    try {
      if (isExecutable(k, execContext(k, cwd), candidate)) return candidate;
      lastErr = Errno.EACCES;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      if (e.errno !== Errno.ENOENT && e.errno !== Errno.ENOTDIR) lastErr = e.errno;
    }
  }
  throw new SysError(lastErr, `executable file ${JSON.stringify(name)} not found in $PATH`);
}

/** Sets the registers a new process starts with on x86-64. */
export function initialRegisters(regs: Registers, entry: bigint, sp: bigint): void {
  regs.r.fill(0n);
  regs.r[R.cs] = 0x33n;
  regs.r[R.ss] = 0x2bn;
  regs.r[R.eflags] = 0x202n;
  regs.rip = entry;
  regs.rsp = sp;
}

/**
 * The root, and cwd (a path from the root) resolved, as who execs sees them: the task's own
 * filesystem context when there is a task, the tree's root for the container's first process.
 */
function execContext(k: Kernel, cwd: string, task?: Task): ExecContext {
  if (task) {
    const c = FsContext.of(task.tg);
    return {
      root: c.root,
      cwd: cwd === "/" ? c.root : c.cwd,
      creds: credsOf(task),
      task,
    };
  }
  const root = k.vfs.root;
  const creds = { uid: 0, gid: 0, groups: [] };
  const dir = k.vfs.resolve({ t: undefined as never, root, start: root, creds }, cwd, {
    follow: true,
  });
  return { root, cwd: dir, creds };
}

/** Opens path for execution: a regular file with an execute bit. */
function openForExec(k: Kernel, path: string, cwd: string, task?: Task): OpenExecutable {
  return openExecutable(k, execContext(k, cwd, task), path);
}

/** Longest `#!` line Linux reads (BINPRM_BUF_SIZE). */
const BINPRM_BUF_SIZE = 256;
/** Nesting of `#!` interpreters Linux allows. */
const MAX_INTERP_DEPTH = 4;
/** One argument or environment string (MAX_ARG_STRLEN). */
const MAX_ARG_STRLEN = 32 * 4096;

/** Parses a `#!` line: the interpreter and its one optional argument. */
function parseShebang(head: Uint8Array): { interp: string; arg: string | null } {
  let end = head.indexOf(0x0a);
  if (end < 0) end = head.length;
  const line = decodeBytes(head.subarray(2, end)).replace(/^[ \t]+/, "").trimEnd();
  if (line === "") throw new SysError(Errno.ENOEXEC, "empty #! line");
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line)!;
  return { interp: m[1], arg: m[2] ?? null };
}

/**
 * Checks execve's argument limits: each string at most MAX_ARG_STRLEN, and all of them, with
 * their pointers, within a quarter of the stack limit (E2BIG otherwise).
 */
export function checkArgLimits(argv: string[], envp: string[], stackLimit: bigint): void {
  let total = 0;
  for (const s of [...argv, ...envp]) {
    const n = byteLength(s) + 1;
    if (n > MAX_ARG_STRLEN) throw new SysError(Errno.E2BIG);
    total += n + 8;
  }
  const limit = stackLimit / 4n > 32n * 4096n ? stackLimit / 4n : 32n * 4096n;
  if (BigInt(total) > limit) throw new SysError(Errno.E2BIG);
}

/**
 * Loads the executable into mm (which must be empty) and sets regs to start it: static and
 * dynamic ELF (the PT_INTERP interpreter is loaded too) and `#!` scripts.
 * Throws SysError with the errno execve would return and a message for the user.
 */
export function loadExecutable(
  k: Kernel,
  mm: MemoryManager,
  regs: Registers,
  req: LoadRequest,
): LoadResult {
  let path = req.path;
  let argv = req.argv;
  for (let depth = 0;; depth++) {
    const file = openForExec(k, path, req.cwd, req.task);
    try {
      const read = (buf: Uint8Array<ArrayBuffer>, off: number) => file.readAt(buf, off);
      const head = new Uint8Array(BINPRM_BUF_SIZE);
      const n = read(head, 0);
      if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) {
        if (depth >= MAX_INTERP_DEPTH) throw new SysError(Errno.ELOOP);
        const { interp, arg } = parseShebang(head.subarray(0, n));
        argv = [interp, ...(arg !== null ? [arg] : []), path, ...argv.slice(1)];
        path = interp;
        continue;
      }
      const elf = parseElf(read);
      const loaded = loadElf(mm, elf, read);
      let entry = loaded.entry;
      let interpBase = 0n;
      if (elf.interp !== null) {
        const ifile = openForExec(k, elf.interp, "/", req.task);
        try {
          const iread = (b: Uint8Array<ArrayBuffer>, off: number) => ifile.readAt(b, off);
          const ielf = parseElf(iread);
          if (ielf.interp !== null) {
            throw new SysError(Errno.ELIBBAD, "interpreter has an interpreter");
          }
          const base = mm.findGap(elfSpan(ielf));
          if (base === null) throw new SysError(Errno.ENOMEM);
          const iloaded = loadElf(mm, ielf, iread, base);
          entry = iloaded.entry;
          interpBase = iloaded.bias;
        } finally {
          ifile.close();
        }
      }
      mm.brkStart = loaded.end;
      mm.brk = loaded.end;
      const top = mm.mapStack();
      const sp = setupStack(mm, top, {
        argv,
        envp: req.envp,
        execfn: req.path,
        auxv: [
          [AT.PHDR, loaded.phdr],
          [AT.PHENT, BigInt(loaded.phent)],
          [AT.PHNUM, BigInt(loaded.phnum)],
          [AT.BASE, interpBase],
          [AT.FLAGS, 0n],
          [AT.ENTRY, loaded.entry],
          [AT.UID, BigInt(req.uid)],
          [AT.EUID, BigInt(req.uid)],
          [AT.GID, BigInt(req.gid)],
          [AT.EGID, BigInt(req.gid)],
        ],
      });
      initialRegisters(regs, entry, sp);
      return { exe: file.path, argv };
    } finally {
      file.close();
    }
  }
}
