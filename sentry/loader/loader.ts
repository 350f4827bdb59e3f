/**
 * Loading a program into a fresh address space: find the executable through the container's
 * filesystem, map it, and build the initial stack and registers.
 *
 * @module
 */

import { Errno } from "../../host/errno.ts";
import { closeFd, preadFd } from "../../host/libc.ts";
import { R, type Registers } from "../../platform/registers.ts";
import { S_IFMT, S_IFREG } from "../fs/gofer.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { SysError } from "../syscalls/errors.ts";
import { loadElf, parseElf } from "./elf.ts";
import { AT, setupStack } from "./stack.ts";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface LoadRequest {
  /** The executable's path as given (absolute, or relative to cwd). */
  path: string;
  argv: string[];
  envp: string[];
  cwd: string;
  uid: number;
  gid: number;
}

export interface LoadResult {
  /** Canonical path of the executable (for /proc/self/exe). */
  exe: string;
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
      const r = k.fs.resolve(candidate, cwd, true);
      k.fs.release(r.fd);
      if ((r.stat.mode & S_IFMT) === S_IFREG) return candidate;
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
 * Loads the executable into mm (which must be empty) and sets regs to start it.
 * Throws SysError with the errno execve would return and a message for the user.
 */
export function loadExecutable(
  k: Kernel,
  mm: MemoryManager,
  regs: Registers,
  req: LoadRequest,
): LoadResult {
  const r = k.fs.resolve(req.path, req.cwd, true);
  let hostFd = -1;
  try {
    if ((r.stat.mode & S_IFMT) !== S_IFREG) {
      throw new SysError(Errno.EACCES, `${req.path} is not a regular file`);
    }
    if ((r.stat.mode & 0o111) === 0) {
      throw new SysError(Errno.EACCES, `${req.path} is not executable`);
    }
    hostFd = k.fs.openHost(r);
  } finally {
    k.fs.release(r.fd);
  }
  try {
    const read = (buf: Uint8Array<ArrayBuffer>, off: number) => preadFd(hostFd, buf, off);
    const elf = parseElf(read);
    if (elf.interp !== null) {
      throw new SysError(
        Errno.ENOEXEC,
        `${req.path} is dynamically linked (interpreter ${elf.interp}); ` +
          "only static executables run so far",
      );
    }
    const loaded = loadElf(mm, elf, read);
    mm.brkStart = loaded.end;
    mm.brk = loaded.end;
    const top = mm.mapStack();
    const sp = setupStack(mm, top, {
      argv: req.argv,
      envp: req.envp,
      execfn: req.path,
      auxv: [
        [AT.PHDR, loaded.phdr],
        [AT.PHENT, BigInt(loaded.phent)],
        [AT.PHNUM, BigInt(loaded.phnum)],
        [AT.BASE, 0n],
        [AT.FLAGS, 0n],
        [AT.ENTRY, loaded.entry],
        [AT.UID, BigInt(req.uid)],
        [AT.EUID, BigInt(req.uid)],
        [AT.GID, BigInt(req.gid)],
        [AT.EGID, BigInt(req.gid)],
      ],
    });
    initialRegisters(regs, loaded.entry, sp);
    return { exe: r.path };
  } finally {
    closeFd(hostFd);
  }
}
