/**
 * procfs: the kernel's state as files. Nothing is stored: each lookup builds the inode from
 * the kernel's thread groups, tasks, address spaces and mounts, and each open takes a
 * snapshot of the file's text, so a reader sees one consistent version however it reads.
 *
 * @module
 */

import { capStatusLines } from "../kernel/task_creds.ts";
import { SIG_DFL, SIG_IGN, sigbit } from "../kernel/signal.ts";
import { Errno } from "../../abi/linux/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Task, ThreadGroup } from "../kernel/task.ts";
import type { Vma } from "../mm/mm.ts";
import { SysError } from "../../abi/linux/error.ts";
import { UTS } from "../kernel/uts.ts";
import {
  DirectoryFile,
  type FileDescription,
  FileDescriptionBase,
  O_ACCMODE,
  O_RDONLY,
  seekOffset,
} from "../vfs/file.ts";
import { FsContext } from "../vfs/fs_context.ts";
import {
  type Attr,
  type DirEntry,
  direntType,
  Filesystem,
  type FsStat,
  Inode,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
} from "../vfs/inode.ts";
import { Dentry, Mount, VirtualDentry, type VirtualFilesystem } from "../vfs/vfs.ts";
import { procNetFiles } from "../net/proc_net.ts";
import { byteLength, encodeBytes } from "../../host/utf8b.ts";
import { CLK_TCK as USER_HZ } from "../../abi/linux/rusage.ts";

const PROC_SUPER_MAGIC = 0x9fa0n;
const BOOT_NS = BigInt(Date.now()) * 1_000_000n;
const CLK_TCK = Number(USER_HZ);

/** The procfs instance of a kernel. */
export class ProcFilesystem extends Filesystem {
  readonly name = "proc";
  readonly #inos = new Map<string, bigint>();
  readonly #root: ProcDir;

  constructor(readonly kernel: Kernel, readonly vfs: VirtualFilesystem) {
    super();
    this.cacheDentries = false;
    this.#root = new ProcDir(this, "/", 0o555, () => rootEntries(this));
  }

  root(): Inode {
    return this.#root;
  }

  /** A stable inode number for a procfs path. */
  inoFor(key: string): bigint {
    let n = this.#inos.get(key);
    if (n === undefined) this.#inos.set(key, n = this.nextIno());
    return n;
  }

  override statfs(): FsStat {
    return { ...super.statfs(), type: PROC_SUPER_MAGIC };
  }
}

type Factory = () => Inode;
type Entries = () => Map<string, Factory>;

class ProcDir extends Inode {
  declare readonly fs: ProcFilesystem;
  constructor(fs: ProcFilesystem, key: string, perm: number, readonly list: Entries) {
    super(fs, S_IFDIR | perm, 0, 0, fs.inoFor(key));
    this.nlink = 2;
  }
  override lookup(name: string): Inode | null {
    const f = this.list().get(name);
    return f ? f() : null;
  }
  // procfs refuses new names the way its lookups do: the name is not found.
  override mknod(): Inode {
    throw new SysError(Errno.ENOENT);
  }
  override mkdir(): Inode {
    throw new SysError(Errno.ENOENT);
  }
  override symlink(): Inode {
    throw new SysError(Errno.ENOENT);
  }
  override link(): void {
    throw new SysError(Errno.ENOENT);
  }
  override entries(): DirEntry[] {
    return [...this.list()].map(([name, f]) => {
      const i = f();
      return { name, ino: i.ino, type: direntType(i.mode) };
    });
  }
  open(_t: Task, vd: VirtualDentry, flags: number): FileDescription {
    if ((flags & O_ACCMODE) !== O_RDONLY) throw new SysError(Errno.EISDIR);
    return new DirectoryFile(this, vd, flags);
  }
}

/** A file whose text is made when it is opened. */
class ProcFile extends Inode {
  constructor(
    fs: ProcFilesystem,
    key: string,
    readonly gen: (t: Task) => string | Uint8Array,
    perm = 0o444,
  ) {
    super(fs, S_IFREG | perm, 0, 0, fs.inoFor(key));
  }
  open(t: Task, vd: VirtualDentry, flags: number): FileDescription {
    if ((flags & O_ACCMODE) !== O_RDONLY) throw new SysError(Errno.EACCES);
    const v = this.gen(t);
    return new SnapshotFile(
      this,
      typeof v === "string" ? encodeBytes(v) : v,
      vd,
      flags,
    );
  }
}

class SnapshotFile extends FileDescriptionBase {
  offset = 0n;
  constructor(readonly inode: Inode, readonly data: Uint8Array, vd: VirtualDentry, flags: number) {
    super(flags, vd);
  }
  override read(_t: Task, dst: Uint8Array<ArrayBuffer>, offset?: bigint): number {
    const at = Number(offset ?? this.offset);
    const part = this.data.subarray(Math.min(at, this.data.length), at + dst.length);
    dst.set(part);
    if (offset === undefined) this.offset += BigInt(part.length);
    return part.length;
  }
  override write(): number {
    throw new SysError(Errno.EBADF);
  }
  override seek(_t: Task, offset: bigint, whence: number): bigint {
    return this.offset = seekOffset(this.offset, BigInt(this.data.length), offset, whence);
  }
  stat(_t: Task): Attr {
    return this.inode.stat();
  }
}

/** A symlink, possibly magic: following it reaches the file itself, not its path. */
class ProcLink extends Inode {
  constructor(
    fs: ProcFilesystem,
    key: string,
    readonly target: (t: Task) => string,
    readonly magic?: (t: Task) => VirtualDentry | null,
  ) {
    super(fs, S_IFLNK | 0o777, 0, 0, fs.inoFor(key));
  }
  override readlink(t: Task): string {
    const target = this.target(t);
    // Linux builds the path in one page (d_path): a longer one is ENAMETOOLONG, not truncated.
    if (target.length >= 4096 / 4 && byteLength(target) >= 4096) {
      throw new SysError(Errno.ENAMETOOLONG);
    }
    return target;
  }
  override magicLink(t: Task): VirtualDentry | null {
    return this.magic?.(t) ?? null;
  }
  open(): FileDescription {
    throw new SysError(Errno.ELOOP);
  }
}

function entries(pairs: [string, Factory][]): Map<string, Factory> {
  return new Map(pairs);
}

function rootEntries(fs: ProcFilesystem): Map<string, Factory> {
  const k = fs.kernel;
  const file = (name: string, gen: (t: Task) => string): [string, Factory] => [
    name,
    () => new ProcFile(fs, name, gen),
  ];
  const m = entries([
    file("meminfo", meminfo),
    file("cpuinfo", cpuinfo),
    file("uptime", () => {
      const s = Number(BigInt(Date.now()) * 1_000_000n - BOOT_NS) / 1e9;
      return `${s.toFixed(2)} ${s.toFixed(2)}\n`;
    }),
    file("version", () => `Linux version ${UTS.release} (root@runsc) (gcc) ${UTS.version}\n`),
    file(
      "filesystems",
      () =>
        ["sysfs", "tmpfs", "proc", "devpts", "mqueue"].map((n) => `nodev\t${n}\n`).join("") +
        "nodev\t9p\n",
    ),
    file("loadavg", () => `0.00 0.00 0.00 1/${k.tasks.size} ${k.tasks.size}\n`),
    file("stat", () => {
      const cpus = navigator.hardwareConcurrency;
      let s = "cpu  0 0 0 0 0 0 0 0 0 0\n";
      for (let i = 0; i < cpus; i++) s += `cpu${i} 0 0 0 0 0 0 0 0 0 0\n`;
      return s + `ctxt 0\nbtime ${Math.floor(Number(BOOT_NS / 1_000_000_000n))}\n` +
        `processes ${k.threadGroups.size}\nprocs_running 1\nprocs_blocked 0\n`;
    }),
    ["self", () => new ProcLink(fs, "self", (t) => String(t.tg.pid))],
    ["thread-self", () => new ProcLink(fs, "thread-self", (t) => `${t.tg.pid}/task/${t.tid}`)],
    ["mounts", () => new ProcLink(fs, "mounts", () => "self/mounts")],
    ["sys", () => new ProcDir(fs, "sys", 0o555, () => sysEntries(fs))],
    [
      "net",
      () =>
        new ProcDir(fs, "net", 0o555, () =>
          entries(
            Object.entries(procNetFiles(k)).map((
              [name, gen],
            ) => [name, () => new ProcFile(fs, `net/${name}`, gen)]),
          )),
    ],
  ]);
  for (const tg of k.threadGroups.values()) {
    m.set(String(tg.pid), () => pidDir(fs, tg));
  }
  return m;
}

function sysEntries(fs: ProcFilesystem): Map<string, Factory> {
  const k = fs.kernel;
  const f = (key: string, gen: () => string): Factory => () => new ProcFile(fs, key, gen);
  return entries([
    [
      "kernel",
      () =>
        new ProcDir(fs, "sys/kernel", 0o555, () =>
          entries([
            ["hostname", f("sys/kernel/hostname", () => k.hostname + "\n")],
            ["domainname", f("sys/kernel/domainname", () => k.domainname + "\n")],
            ["ostype", f("sys/kernel/ostype", () => "Linux\n")],
            ["osrelease", f("sys/kernel/osrelease", () => UTS.release + "\n")],
            ["version", f("sys/kernel/version", () => UTS.version + "\n")],
            ["pid_max", f("sys/kernel/pid_max", () => "4194304\n")],
            ["ngroups_max", f("sys/kernel/ngroups_max", () => "65536\n")],
            ["cap_last_cap", f("sys/kernel/cap_last_cap", () => "40\n")],
          ])),
    ],
    [
      "vm",
      () =>
        new ProcDir(fs, "sys/vm", 0o555, () =>
          entries([
            ["overcommit_memory", f("sys/vm/overcommit_memory", () => "0\n")],
            ["max_map_count", f("sys/vm/max_map_count", () => "2147483647\n")],
            ["mmap_min_addr", f("sys/vm/mmap_min_addr", () => "65536\n")],
          ])),
    ],
    [
      "fs",
      () =>
        new ProcDir(fs, "sys/fs", 0o555, () =>
          entries([
            ["pipe-max-size", f("sys/fs/pipe-max-size", () => "1048576\n")],
            ["nr_open", f("sys/fs/nr_open", () => "1048576\n")],
            ["file-max", f("sys/fs/file-max", () => "9223372036854775807\n")],
          ])),
    ],
  ]);
}

function meminfo(): string {
  const totalKb = 2 * 1024 * 1024;
  const lines: [string, number][] = [
    ["MemTotal", totalKb],
    ["MemFree", totalKb / 2],
    ["MemAvailable", totalKb / 2],
    ["Buffers", 0],
    ["Cached", 0],
    ["SwapCached", 0],
    ["Active", 0],
    ["Inactive", 0],
    ["SwapTotal", 0],
    ["SwapFree", 0],
    ["Shmem", 0],
  ];
  return lines.map(([k, v]) => `${(k + ":").padEnd(16)}${String(v).padStart(8)} kB\n`).join("");
}

function cpuinfo(): string {
  let s = "";
  for (let i = 0; i < navigator.hardwareConcurrency; i++) {
    s += `processor\t: ${i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 0\n` +
      `model name\t: runsc virtual CPU\ncpu MHz\t\t: 2000.000\ncache size\t: 8192 KB\n` +
      `physical id\t: 0\nsiblings\t: ${navigator.hardwareConcurrency}\ncore id\t\t: ${i}\n` +
      `cpu cores\t: ${navigator.hardwareConcurrency}\nflags\t\t: fpu sse sse2\n` +
      `bogomips\t: 4000.00\n\n`;
  }
  return s;
}

function mountsText(fs: ProcFilesystem, tg: ThreadGroup, info: boolean): string {
  const ctx = FsContext.of(tg);
  let s = "";
  for (const m of fs.vfs.mounts) {
    const path = m.parent && m.mountpoint
      ? fs.vfs.pathOf(new VirtualDentry(m.parent, m.mountpoint), ctx.root)
      : "/";
    const opts = [m.readonly ? "ro" : "rw"];
    if (m.opts.nosuid) opts.push("nosuid");
    if (m.opts.nodev) opts.push("nodev");
    if (m.opts.noexec) opts.push("noexec");
    opts.push(...(m.opts.extra ?? []));
    const src = m.opts.source ?? m.fs.name;
    if (info) {
      const dev = m.fs.dev;
      s += `${m.id} ${m.parent?.id ?? 0} 0:${dev} / ${path} ${opts.join(",")} - ${m.fs.name} ` +
        `${src} ${opts[0]}\n`;
    } else {
      s += `${src} ${path} ${m.fs.name} ${opts.join(",")} 0 0\n`;
    }
  }
  return s;
}

/** The path /proc shows for an open file or directory. */
function describe(fs: ProcFilesystem, tg: ThreadGroup, f: FileDescription, t: Task): string {
  if (f.vd) {
    const p = fs.vfs.pathOf(f.vd, FsContext.of(tg).root);
    return f.vd.dentry.deleted ? `${p} (deleted)` : p;
  }
  const kind = (f as { anonName?: string }).anonName;
  if (kind) return `anon_inode:${kind}`;
  const a = f.stat(t);
  const type = a.mode & 0o170000;
  if (type === 0o010000) return `pipe:[${a.ino}]`;
  if (type === 0o140000) return `socket:[${a.ino}]`;
  return `anon_inode:[${a.ino}]`;
}

/** Where a magic link to f leads: its path, or the inode of an anonymous file (a pipe). */
function fileVd(f: FileDescription): VirtualDentry | null {
  if (f.vd) return f.vd;
  const ino = f.reopenInode?.();
  if (!ino) return null;
  const m = new Mount(ino.fs, new Dentry("", null, ino), null, null, { anonymous: true });
  return new VirtualDentry(m, m.root);
}

/**
 * /proc/[pid], or with `thread` /proc/[pid]/task/[tid]: the same files, but stat, status and
 * comm speak for that thread (its id, name and state), and there is no task/ below it.
 */
function pidDir(fs: ProcFilesystem, tg: ThreadGroup, thread?: Task): Inode {
  const key = thread ? `${tg.pid}/task/${thread.tid}` : `${tg.pid}`;
  const k = fs.kernel;
  const file = (name: string, gen: (t: Task) => string | Uint8Array): [string, Factory] => [
    name,
    () => new ProcFile(fs, `${key}/${name}`, gen),
  ];
  const list = () =>
    entries([
      file("cmdline", () => tg.argv.length ? tg.argv.join("\0") + "\0" : ""),
      file("comm", () => commOf(tg, thread) + "\n"),
      file("environ", () => {
        const env = tg.envp;
        return env.length ? env.join("\0") + "\0" : "";
      }),
      file("stat", () => pidStat(tg, thread)),
      file("statm", () => {
        const pages = vmSize(tg) / 4096n;
        return `${pages} ${pages} 0 0 0 ${pages} 0\n`;
      }),
      file("status", () => pidStatus(tg, thread)),
      file("maps", () => maps(tg)),
      file("smaps", () => smaps(tg)),
      file("mounts", () => mountsText(fs, tg, false)),
      file("mountinfo", () => mountsText(fs, tg, true)),
      file("limits", () => limits(tg)),
      [
        "exe",
        () =>
          new ProcLink(fs, `${key}/exe`, () => tg.exe, (t) => {
            try {
              const ctx = FsContext.of(tg);
              return fs.vfs.resolve(
                { t, root: ctx.root, start: ctx.root, creds: { uid: 0, gid: 0, groups: [] } },
                tg.exe,
                { follow: true },
              );
            } catch {
              return null;
            }
          }),
      ],
      [
        "cwd",
        () =>
          new ProcLink(
            fs,
            `${key}/cwd`,
            () => fs.vfs.pathOf(FsContext.of(tg).cwd, FsContext.of(tg).root),
            () => FsContext.of(tg).cwd,
          ),
      ],
      [
        "root",
        () => new ProcLink(fs, `${key}/root`, () => "/", () => FsContext.of(tg).root),
      ],
      ["fd", () => new ProcDir(fs, `${key}/fd`, 0o500, () => fdEntries(fs, tg, false))],
      ["fdinfo", () => new ProcDir(fs, `${key}/fdinfo`, 0o500, () => fdEntries(fs, tg, true))],
      ...(thread ? [] : [
        [
          "task",
          () =>
            new ProcDir(fs, `${key}/task`, 0o555, () => {
              const m = new Map<string, Factory>();
              for (const t of tg.tasks) m.set(String(t.tid), () => pidDir(fs, tg, t));
              return m;
            }),
        ] as [string, Factory],
      ]),
    ]);
  const d = new ProcDir(fs, key, 0o555, list);
  d.uid = tg.uid;
  d.gid = tg.gid;
  pidDirs.set(d, tg);
  void k;
  return d;
}

/** The process behind each /proc/[pid] directory inode. */
const pidDirs = new WeakMap<Inode, ThreadGroup>();

/**
 * The process a /proc/[pid] directory names, or undefined: pidfd_send_signal(2) takes a
 * descriptor of that directory as a pidfd, as Linux does (CPython's test_signal uses one).
 */
export function procPidDirProcess(inode: Inode): ThreadGroup | undefined {
  return pidDirs.get(inode);
}

function fdEntries(fs: ProcFilesystem, tg: ThreadGroup, info: boolean): Map<string, Factory> {
  const m = new Map<string, Factory>();
  for (const fd of tg.fdTable.fds()) {
    const key = `${tg.pid}/${info ? "fdinfo" : "fd"}/${fd}`;
    m.set(String(fd), () => {
      const f = tg.fdTable.peek(fd);
      if (!f) throw new SysError(Errno.ENOENT);
      if (info) {
        return new ProcFile(fs, key, () => {
          const pos = (f as { offset?: bigint }).offset ?? 0n;
          const flags = f.flags | (tg.fdTable.getCloexec(fd) ? 0o2000000 : 0);
          return `pos:\t${pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t${f.vd?.mount.id ?? 0}\n`;
        });
      }
      const l = new ProcLink(fs, key, (t) => describe(fs, tg, f, t), () => fileVd(f));
      l.mode = S_IFLNK | 0o700;
      return l;
    });
  }
  return m;
}

function vmSize(tg: ThreadGroup): bigint {
  const mm = tg.leader?.mm;
  if (!mm) return 0n;
  return mm.vmas.reduce((s, v) => s + (v.end - v.start), 0n);
}

function pidStat(tg: ThreadGroup, thread?: Task): string {
  const ppid = tg.parent?.pid ?? 0;
  const vsz = vmSize(tg);
  // Times are in clock ticks (USER_HZ = 100).
  const ticks = (ns: bigint) => ns / 10_000_000n;
  const cpu = tg.cpuTime();
  const mm = tg.leader?.mm;
  const rss = mm
    ? mm.vmas.reduce(
      (n, v) => v.unbacked ? n : n + mm.mf.residentIn(v.fileOffset, v.end - v.start),
      0n,
    )
    : 0n;
  const f: (string | number | bigint)[] = [
    thread?.tid ?? tg.pid,
    `(${commOf(tg, thread)})`,
    procState(tg, tg.zombie, thread)[0],
    ppid,
    tg.pgid,
    tg.sid,
    0,
    -1,
    0x400000,
    0,
    0,
    0,
    0,
    ticks(cpu.user),
    ticks(cpu.sys),
    ticks(tg.cpuChildren.user),
    ticks(tg.cpuChildren.sys),
    20 + tg.nice,
    tg.nice,
    tg.tasks.size,
    0,
    BigInt(Math.max(0, Math.floor((tg.startTime - tg.kernel.bootTime) / 10))),
    vsz,
    rss / 4096n,
    "18446744073709551615",
  ];
  while (f.length < 52) f.push(0);
  void CLK_TCK;
  return f.join(" ") + "\n";
}

/**
 * SigPnd, ShdPnd, SigBlk (the leader's: /proc/[pid]/status speaks for the leader), SigIgn and
 * SigCgt: programs read these to learn what a process they did not start does with signals.
 */
function signalStatusLines(tg: ThreadGroup): string[] {
  let ign = 0n, cgt = 0n;
  tg.handlers.actions.forEach((a, n) => {
    if (n === 0) return;
    if (a.handler === SIG_IGN) ign |= sigbit(n);
    else if (a.handler !== SIG_DFL) cgt |= sigbit(n);
  });
  const hex = (m: bigint) => m.toString(16).padStart(16, "0");
  return [
    `SigPnd:\t${hex(tg.leader?.pending.mask ?? 0n)}`,
    `ShdPnd:\t${hex(tg.pending.mask)}`,
    `SigBlk:\t${hex(tg.leader?.sigmask ?? 0n)}`,
    `SigIgn:\t${hex(ign)}`,
    `SigCgt:\t${hex(cgt)}`,
  ];
}

/** The name /proc shows: the process's (its leader's), or a thread's own (PR_SET_NAME). */
function commOf(tg: ThreadGroup, thread?: Task): string {
  return thread?.name || tg.comm;
}

/**
 * The state /proc shows for a process: its leader's, as Linux shows the thread group leader's
 * (a process whose main thread waits is S while another thread runs); a thread's own in task/.
 */
function procState(tg: ThreadGroup, dead: boolean, thread?: Task): string {
  if (dead) return "Z (zombie)";
  if (tg.stopped) return "T (stopped)";
  return (thread ?? tg.leader)?.sleeping ? "S (sleeping)" : "R (running)";
}

function pidStatus(tg: ThreadGroup, thread?: Task): string {
  const kb = vmSize(tg) / 1024n;
  return [
    `Name:\t${commOf(tg, thread)}`,
    `Umask:\t${FsContext.of(tg).umask.toString(8).padStart(4, "0")}`,
    `State:\t${procState(tg, tg.exiting, thread)}`,
    `Tgid:\t${tg.pid}`,
    `Ngid:\t0`,
    `Pid:\t${thread?.tid ?? tg.pid}`,
    `PPid:\t${tg.parent?.pid ?? 0}`,
    `TracerPid:\t0`,
    `Uid:\t${tg.uid}\t${tg.euid}\t${tg.suid}\t${tg.euid}`,
    `Gid:\t${tg.gid}\t${tg.egid}\t${tg.sgid}\t${tg.egid}`,
    `FDSize:\t64`,
    `Groups:\t`,
    `VmPeak:\t${String(kb).padStart(8)} kB`,
    `VmSize:\t${String(kb).padStart(8)} kB`,
    `VmRSS:\t${String(kb).padStart(8)} kB`,
    `Threads:\t${tg.tasks.size}`,
    `SigQ:\t0/127806`,
    ...signalStatusLines(tg),
    capStatusLines(tg).trimEnd(),
    `NoNewPrivs:\t${tg.noNewPrivs ? 1 : 0}`,
    `Seccomp:\t0`,
    `Cpus_allowed:\t3`,
    `Mems_allowed:\t1`,
    `voluntary_ctxt_switches:\t0`,
    `nonvoluntary_ctxt_switches:\t0`,
  ].join("\n") + "\n";
}

/** The /proc/[pid]/maps line of a VMA. */
function mapsLine(v: Vma): string {
  const hex = (x: bigint, w: number) => x.toString(16).padStart(w, "0");
  const p = (v.prot & 1 ? "r" : "-") + (v.prot & 2 ? "w" : "-") + (v.prot & 4 ? "x" : "-") +
    (v.shared ? "s" : "p");
  const off = v.file ? v.file.delta + v.fileOffset : 0n;
  const line = `${hex(v.start, 8)}-${hex(v.end, 8)} ${p} ${hex(off, 8)} 00:00 0`;
  return v.name ? `${line.padEnd(73)}${v.name}\n` : `${line}\n`;
}

function maps(tg: ThreadGroup): string {
  const mm = tg.leader?.mm;
  if (!mm) return "";
  return areas(mm.vmas).map((a) => mapsLine(a.vma)).join("");
}

/**
 * The VMAs as Linux shows them: the pieces of one file mapping that follow each other (its
 * pages and the unbacked part past the file's end, runs made when touched) are one area.
 * `vma` is the area (the first piece, stretched), `pieces` what makes it.
 */
function areas(vmas: Vma[]): { vma: Vma; pieces: Vma[] }[] {
  const out: { vma: Vma; pieces: Vma[] }[] = [];
  for (const v of vmas) {
    const last = out[out.length - 1];
    if (last && onePiece(last.vma, v)) {
      last.vma = { ...last.vma, end: v.end };
      last.pieces.push(v);
    } else out.push({ vma: v, pieces: [v] });
  }
  return out;
}

/** True when b continues a, both made by one mmap (or mremap) of a file. */
function onePiece(a: Vma, b: Vma): boolean {
  if (!a.file || !b.file || a.end !== b.start || a.file.mappable !== b.file.mappable) return false;
  const next = a.file.delta + a.fileOffset + (a.end - a.start);
  return next === b.file.delta + b.fileOffset && a.prot === b.prot && !!a.shared === !!b.shared &&
    a.name === b.name && a.maxPerms === b.maxPerms && !!a.growsDown === !!b.growsDown;
}

/**
 * /proc/[pid]/smaps: each VMA with its size and what of it is resident (pages the memory
 * file holds). Copy-on-write pages shared with another process count as shared.
 */
function smaps(tg: ThreadGroup): string {
  const mm = tg.leader?.mm;
  if (!mm) return "";
  const kb = (bytes: bigint) => `${bytes / 1024n} kB`.padStart(12);
  return areas(mm.vmas).map(({ vma: v, pieces }) => {
    const size = v.end - v.start;
    const rss = pieces.reduce(
      (n, p) => p.unbacked ? n : n + mm.mf.residentIn(p.fileOffset, p.end - p.start),
      0n,
    );
    const shared = v.shared || v.cow !== undefined;
    const fields: [string, bigint | string][] = [
      ["Size", size],
      ["KernelPageSize", 4096n],
      ["MMUPageSize", 4096n],
      ["Rss", rss],
      ["Pss", rss],
      ["Shared_Clean", 0n],
      ["Shared_Dirty", shared ? rss : 0n],
      ["Private_Clean", 0n],
      ["Private_Dirty", shared ? 0n : rss],
      ["Referenced", rss],
      ["Anonymous", v.name.startsWith("/") ? 0n : rss],
      ["LazyFree", 0n],
      ["AnonHugePages", 0n],
      ["ShmemPmdMapped", 0n],
      ["FilePmdMapped", 0n],
      ["Shared_Hugetlb", 0n],
      ["Private_Hugetlb", 0n],
      ["Swap", 0n],
      ["SwapPss", 0n],
      ["Locked", 0n],
    ];
    const flags = [
      v.prot & 1 ? "rd" : "",
      v.prot & 2 ? "wr" : "",
      v.prot & 4 ? "ex" : "",
      v.shared ? "sh" : "",
      "mr",
      "mw",
      "me",
      v.growsDown ? "gd" : "",
      "ac",
    ].filter((f) => f).join(" ");
    return mapsLine(v) +
      fields.map(([k, x]) => `${(k + ":").padEnd(16)}${kb(x as bigint)}\n`).join("") +
      `THPeligible:    0\nVmFlags: ${flags}\n`;
  }).join("");
}

function limits(tg: ThreadGroup): string {
  const names: [number, string, string][] = [
    [0, "Max cpu time", "seconds"],
    [1, "Max file size", "bytes"],
    [2, "Max data size", "bytes"],
    [3, "Max stack size", "bytes"],
    [4, "Max core file size", "bytes"],
    [5, "Max resident set", "bytes"],
    [6, "Max processes", "processes"],
    [7, "Max open files", "files"],
    [8, "Max locked memory", "bytes"],
    [9, "Max address space", "bytes"],
  ];
  const v = (x: bigint | undefined) =>
    x === undefined || x === 0xffffffffffffffffn ? "unlimited" : String(x);
  let s = "Limit                     Soft Limit           Hard Limit           Units     \n";
  for (const [r, name, unit] of names) {
    const l = tg.rlimits.get(r);
    s += `${name.padEnd(26)}${v(l?.cur).padEnd(21)}${v(l?.max).padEnd(21)}${unit.padEnd(10)}\n`;
  }
  return s;
}
