/**
 * Pseudo-terminals: /dev/ptmx makes a master/slave pair whose slave appears as /dev/pts/N (the
 * devpts filesystem). A small line discipline sits between them: input processing (ICRNL,
 * canonical lines with erase and kill, VEOF, echo, ISIG signals to the foreground process
 * group) and output processing (ONLCR). Terminal ioctls: TCGETS/TCSETS*, TIOCGWINSZ/TIOCSWINSZ,
 * TIOCGPGRP/TIOCSPGRP, TIOCSCTTY/TIOCNOTTY, TIOCGSID, FIONREAD, TIOCGPTN, TIOCSPTLCK,
 * TIOCGPTPEER, TCFLSH, TCSBRK, TCXONC.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Task } from "../kernel/task.ts";
import { SysError } from "../../abi/linux/error.ts";
import {
  DirectoryFile,
  type FileDescription,
  FileDescriptionBase,
  type MaybeAsync,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDWR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
} from "../vfs/file.ts";
import {
  type Attr,
  type DirEntry,
  direntType,
  Filesystem,
  Inode,
  nowNs,
  S_IFCHR,
  S_IFDIR,
} from "../vfs/inode.ts";
import { Dentry, Mount, VirtualDentry } from "../vfs/vfs.ts";
import { waitOn, WaitQueue } from "../vfs/waiter.ts";
import { makedev } from "./devices.ts";
import { SIG } from "../../abi/linux/signal.ts";
import { decodeValue, i32, u32 } from "../../abi/linux/layout.ts";
import {
  FIONBIO,
  FIONREAD,
  TCFLSH,
  TCGETS,
  TCSBRK,
  TCSETS,
  TCSETSF,
  TCSETSW,
  TCXONC,
  Termios,
  TIOCGPGRP,
  TIOCGPTN,
  TIOCGPTPEER,
  TIOCGSID,
  TIOCGWINSZ,
  TIOCNOTTY,
  TIOCSCTTY,
  TIOCSPGRP,
  TIOCSPTLCK,
  TIOCSWINSZ,
  Winsize,
} from "../../abi/linux/ioctl.ts";

// termios bits.
const ICRNL = 0o400, INLCR = 0o100, IGNCR = 0o200, ISTRIP = 0o40;
const OPOST = 1, ONLCR = 4;
const ISIG = 1, ICANON = 2, ECHO = 0o10, ECHOE = 0o20, ECHOK = 0o40, ECHONL = 0o100;
const ECHOCTL = 0o1000;
const VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6;
const VSUSP = 10, VEOL = 11, VEOL2 = 16;
const TOSTOP = 0o400;
const TERMIOS_SIZE = Termios.size;
const PTS_MAJOR = 136;

/** The default termios of a new pty (as Linux sets it). */
function defaultTermios(): Uint8Array {
  const cc = [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0];
  return Termios.encode({
    iflag: 0o2400 | ICRNL, // IXON | ICRNL
    oflag: OPOST | ONLCR,
    cflag: 0o277, // B38400 | CS8 | CREAD
    lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | 0o4000 | 0o100000,
    cc: Uint8Array.from(cc),
  });
}

/** One pseudo-terminal pair. */
export class Pty {
  termios = defaultTermios();
  winsize = new Uint8Array(Winsize.size);
  /** Bytes the master reads (slave output and echo). */
  #toMaster: number[] = [];
  /** Input ready for the slave: lines in canonical mode (an empty array is an EOF mark). */
  #ready: number[][] = [];
  /** The line being edited in canonical mode. */
  #line: number[] = [];
  locked = true;
  masterOpen = true;
  slaveOpens = 0;
  slaveEverOpened = false;
  /** Session this is the controlling terminal of, and its foreground process group. */
  sid = 0;
  fgPgrp = 0;
  readonly queue = new WaitQueue();
  readonly ino: bigint;
  readonly created = nowNs();

  constructor(readonly kernel: Kernel, readonly index: number, readonly fs: DevptsFilesystem) {
    this.ino = fs.nextIno();
  }

  #flag(f: "iflag" | "oflag" | "lflag"): number {
    return decodeValue(u32, this.termios, Termios.offsetOf(f));
  }
  get iflag(): number {
    return this.#flag("iflag");
  }
  get oflag(): number {
    return this.#flag("oflag");
  }
  get lflag(): number {
    return this.#flag("lflag");
  }
  #cc(i: number): number {
    return this.termios[Termios.offsetOf("cc") + i];
  }

  /** Output processing of bytes written by the slave (or echoed). */
  #output(bytes: Iterable<number>): void {
    const post = (this.oflag & OPOST) !== 0 && (this.oflag & ONLCR) !== 0;
    for (const c of bytes) {
      if (post && c === 0x0a) this.#toMaster.push(0x0d);
      this.#toMaster.push(c);
    }
  }

  #echo(c: number): void {
    const l = this.lflag;
    if (!(l & ECHO)) {
      if (c === 0x0a && (l & ECHONL) && (l & ICANON)) this.#output([c]);
      return;
    }
    if ((l & ECHOCTL) && c < 0x20 && c !== 0x0a && c !== 0x09) this.#output([0x5e, c + 0x40]);
    else this.#output([c]);
  }

  #signal(sig: number): void {
    if (!this.fgPgrp) return;
    for (const tg of this.kernel.threadGroups.values()) {
      if (tg.pgid === this.fgPgrp) tg.sendSignal({ signo: sig, errno: 0, code: 0x80 });
    }
  }

  /** Input processing of bytes written to the master. */
  input(bytes: Uint8Array): void {
    const i = this.iflag, l = this.lflag;
    for (let c of bytes) {
      if (i & ISTRIP) c &= 0x7f;
      if (c === 0x0d) {
        if (i & IGNCR) continue;
        if (i & ICRNL) c = 0x0a;
      } else if (c === 0x0a && (i & INLCR)) c = 0x0d;
      if (l & ISIG) {
        const sig = c === this.#cc(VINTR)
          ? SIG.INT
          : c === this.#cc(VQUIT)
          ? SIG.QUIT
          : c === this.#cc(VSUSP)
          ? SIG.TSTP
          : 0;
        if (sig && c !== 0) {
          this.#echo(c);
          this.#line = [];
          this.#ready = [];
          this.#signal(sig);
          continue;
        }
      }
      if (l & ICANON) {
        if (c === this.#cc(VERASE)) {
          if (this.#line.length > 0) {
            this.#line.pop();
            if ((l & ECHO) && (l & ECHOE)) this.#output([8, 0x20, 8]);
          }
          continue;
        }
        if (c === this.#cc(VKILL)) {
          this.#line = [];
          if (l & ECHO) this.#echo(c);
          if ((l & ECHOK) && (l & ECHO)) this.#output([0x0a]);
          continue;
        }
        if (c === this.#cc(VEOF)) {
          this.#ready.push(this.#line);
          this.#line = [];
          continue;
        }
        this.#line.push(c);
        this.#echo(c);
        if (c === 0x0a || (c !== 0 && (c === this.#cc(VEOL) || c === this.#cc(VEOL2)))) {
          this.#ready.push(this.#line);
          this.#line = [];
        }
      } else {
        if (this.#ready.length === 0) this.#ready.push([]);
        this.#ready[this.#ready.length - 1].push(c);
        this.#echo(c);
      }
    }
    this.queue.notify();
  }

  /** Non-canonical reads with VMIN and VTIME 0 never wait: such a terminal is readable. */
  takeInputPeek(): boolean {
    return !(this.lflag & ICANON) && this.#cc(VMIN) === 0 && this.#cc(VTIME) === 0;
  }

  /** Bytes the slave can read now. */
  get slaveAvailable(): number {
    return this.#ready.reduce((s, l) => s + l.length, 0);
  }
  get masterAvailable(): number {
    return this.#toMaster.length;
  }

  /** Takes input for a slave read; null when it must wait. */
  takeInput(max: number): Uint8Array | null {
    if (this.#ready.length === 0) {
      if (!(this.lflag & ICANON) && this.#cc(VMIN) === 0 && this.#cc(VTIME) === 0) {
        return new Uint8Array(0);
      }
      return null;
    }
    if (this.lflag & ICANON) {
      const line = this.#ready[0];
      const n = Math.min(max, line.length);
      const out = Uint8Array.from(line.slice(0, n));
      if (n === line.length) this.#ready.shift();
      else this.#ready[0] = line.slice(n);
      return out;
    }
    const all = this.#ready.flat();
    const out = Uint8Array.from(all.slice(0, max));
    const rest = all.slice(max);
    this.#ready = rest.length ? [rest] : [];
    return out;
  }

  /** Slave output. */
  write(bytes: Uint8Array): void {
    this.#output(bytes);
    this.queue.notify();
  }

  takeOutput(max: number): Uint8Array {
    const out = Uint8Array.from(this.#toMaster.slice(0, max));
    this.#toMaster = this.#toMaster.slice(out.length);
    return out;
  }

  /** Sets the window size; a change is the foreground process group's SIGWINCH. */
  resize(w: Uint8Array): void {
    const changed = w.some((b, i) => b !== this.winsize[i]);
    this.winsize = Uint8Array.from(w);
    if (!changed || !this.fgPgrp) return;
    for (const tg of this.kernel.threadGroups.values()) {
      if (tg.pgid === this.fgPgrp) tg.sendSignal({ signo: SIG.WINCH, errno: 0, code: 0x80 });
    }
  }

  flush(queue: number): void {
    if (queue === 0 || queue === 2) {
      this.#ready = [];
      this.#line = [];
    }
    if (queue === 1 || queue === 2) this.#toMaster = [];
    this.queue.notify();
  }
}

/**
 * A process group is orphaned when none of its members has a parent in another group of the
 * same session: nobody is left to continue it if it stops, so the terminal answers EIO.
 */
function orphanedPgrp(k: Kernel, pgid: number, sid: number): boolean {
  for (const tg of k.threadGroups.values()) {
    if (tg.pgid !== pgid || tg.zombie) continue;
    const p = tg.parent;
    if (p && p.pgid !== pgid && p.sid === sid) return false;
  }
  return true;
}

/**
 * Job control on the slave side (Linux's job_control/tty_check_change): a process in the
 * background of the terminal's session that reads (SIGTTIN), or writes with TOSTOP or changes
 * the terminal (SIGTTOU), stops its whole process group; the call restarts once continued.
 * With the signal ignored or blocked, a read fails with EIO and a write or change goes through;
 * an orphaned group gets EIO.
 */
function jobControl(t: Task, pty: Pty, file: TtyFile, sig: number): void {
  const tg = t.tg;
  if (file.master || pty.sid === 0 || pty.sid !== tg.sid || !pty.fgPgrp) return;
  if (tg.pgid === pty.fgPgrp) return;
  const a = tg.handlers.actions[sig];
  const ignored = a.handler === 1n || (t.sigmask & (1n << BigInt(sig - 1))) !== 0n;
  if (ignored) {
    if (sig === SIG.TTOU) return;
    throw new SysError(Errno.EIO);
  }
  if (orphanedPgrp(pty.kernel, tg.pgid, tg.sid)) throw new SysError(Errno.EIO);
  for (const g of pty.kernel.threadGroups.values()) {
    if (g.pgid === tg.pgid) g.sendSignal({ signo: sig, errno: 0, code: 0x80 /* SI_KERNEL */ });
  }
  throw new SysError(Errno.ERESTARTSYS);
}

/** The terminal ioctls both ends answer. */
function ttyIoctl(t: Task, pty: Pty, request: number, arg: bigint, file: TtyFile): number {
  switch (request) {
    case TCGETS:
      t.mm.copyOut(arg, pty.termios);
      return 0;
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
      jobControl(t, pty, file, SIG.TTOU);
      pty.termios = t.mm.copyIn(arg, TERMIOS_SIZE);
      if (request === TCSETSF) pty.flush(0);
      pty.queue.notify();
      return 0;
    case TIOCGWINSZ:
      t.mm.copyOut(arg, pty.winsize);
      return 0;
    case TIOCSWINSZ:
      pty.resize(t.mm.copyIn(arg, 8));
      return 0;
    case TIOCGPGRP:
      // The slave answers only its own session; the master answers anyone.
      if (!file.master && pty.sid !== t.tg.sid) throw new SysError(Errno.ENOTTY);
      t.mm.writeU32(arg, pty.fgPgrp || 0);
      return 0;
    case TIOCSPGRP: {
      jobControl(t, pty, file, SIG.TTOU);
      const pg = decodeValue(i32, t.mm.copyIn(arg, 4));
      if (pg < 0) throw new SysError(Errno.EINVAL);
      if (pty.sid !== t.tg.sid) throw new SysError(Errno.ENOTTY);
      pty.fgPgrp = pg;
      return 0;
    }
    case TIOCSCTTY:
      if (t.tg.sid !== t.tg.pid) throw new SysError(Errno.EPERM);
      if (pty.sid && pty.sid !== t.tg.sid && arg !== 1n) throw new SysError(Errno.EPERM);
      pty.sid = t.tg.sid;
      pty.fgPgrp = t.tg.pgid;
      return 0;
    case TIOCNOTTY:
      if (pty.sid === t.tg.sid) {
        pty.sid = 0;
        pty.fgPgrp = 0;
      }
      return 0;
    case TIOCGSID:
      if (!pty.sid) throw new SysError(Errno.ENOTTY);
      t.mm.writeU32(arg, pty.sid);
      return 0;
    case FIONREAD:
      t.mm.writeU32(arg, file.master ? pty.masterAvailable : pty.slaveAvailable);
      return 0;
    case FIONBIO: {
      const on = decodeValue(i32, t.mm.copyIn(arg, 4));
      file.flags = on ? file.flags | O_NONBLOCK : file.flags & ~O_NONBLOCK;
      return 0;
    }
    case TCFLSH:
      pty.flush(Number(arg));
      return 0;
    case TCSBRK:
    case TCXONC:
      return 0;
    default:
      throw new SysError(Errno.ENOTTY);
  }
}

/** An open end of a pty. */
export class TtyFile extends FileDescriptionBase {
  constructor(
    readonly pty: Pty,
    readonly master: boolean,
    readonly inode: Inode,
    vd: VirtualDentry,
    flags: number,
  ) {
    super(flags, vd);
    if (!master) {
      pty.slaveOpens++;
      pty.slaveEverOpened = true;
    }
  }

  override get queue(): WaitQueue {
    return this.pty.queue;
  }

  override async read(t: Task, dst: Uint8Array<ArrayBuffer>): Promise<number> {
    const p = this.pty;
    jobControl(t, p, this, SIG.TTIN);
    for (;;) {
      if (this.master) {
        if (p.masterAvailable > 0) {
          const b = p.takeOutput(dst.length);
          dst.set(b);
          p.queue.notify();
          return b.length;
        }
        if (p.slaveEverOpened && p.slaveOpens === 0) throw new SysError(Errno.EIO);
      } else {
        const b = p.takeInput(dst.length);
        if (b) {
          dst.set(b);
          p.queue.notify();
          return b.length;
        }
        if (!p.masterOpen) return 0;
      }
      if (this.flags & O_NONBLOCK) throw new SysError(Errno.EAGAIN);
      await waitOn(t, [p.queue]);
    }
  }

  override write(t: Task, src: Uint8Array<ArrayBuffer>): number {
    if (!this.master && (this.pty.lflag & TOSTOP)) jobControl(t, this.pty, this, SIG.TTOU);
    if (this.master) {
      this.pty.input(src);
    } else {
      if (!this.pty.masterOpen) throw new SysError(Errno.EIO);
      this.pty.write(src);
    }
    return src.length;
  }

  override readiness(mask: number): number {
    const p = this.pty;
    let r = POLLOUT | POLLWRNORM;
    if (this.master) {
      if (p.masterAvailable > 0) r |= POLLIN | POLLRDNORM;
      if (p.slaveEverOpened && p.slaveOpens === 0) r |= POLLHUP;
    } else {
      if (p.slaveAvailable > 0 || p.takeInputPeek()) r |= POLLIN | POLLRDNORM;
      if (!p.masterOpen) r |= POLLHUP | POLLIN;
    }
    return r & (mask | POLLHUP);
  }

  override ioctl(t: Task, request: number, arg: bigint): MaybeAsync<number> {
    const p = this.pty;
    if (this.master) {
      switch (request) {
        case TIOCGPTN:
          t.mm.writeU32(arg, p.index);
          return 0;
        case TIOCSPTLCK:
          p.locked = decodeValue(i32, t.mm.copyIn(arg, 4)) !== 0;
          return 0;
        case TIOCGPTPEER: {
          if (p.locked) throw new SysError(Errno.EIO);
          const ino = p.fs.inodeFor(p);
          const f = new TtyFile(p, false, ino, p.fs.vdFor(ino), O_RDWR | (Number(arg) & 0o4000));
          return t.fdTable.install(f, (Number(arg) & 0o2000000) !== 0);
        }
      }
    }
    return ttyIoctl(t, p, request, arg, this);
  }

  stat(_t: Task): Attr {
    return this.inode.stat();
  }

  override release(): void {
    if (this.master) {
      this.pty.masterOpen = false;
      this.pty.fs.remove(this.pty);
    } else {
      this.pty.slaveOpens--;
    }
    this.pty.queue.notify();
  }
}

/** A /dev/pts/N node. */
class PtsInode extends Inode {
  constructor(fs: DevptsFilesystem, readonly pty: Pty) {
    super(fs, S_IFCHR | 0o620, 0, 5, pty.ino);
    this.rdev = makedev(PTS_MAJOR, pty.index);
  }
  open(t: Task, vd: VirtualDentry, flags: number): FileDescription {
    const p = this.pty;
    if (p.locked) throw new SysError(Errno.EIO);
    if (!p.masterOpen) throw new SysError(Errno.EIO);
    // A session leader without a terminal acquires this one unless O_NOCTTY.
    if (!(flags & O_NOCTTY) && t && t.tg.sid === t.tg.pid && !p.sid) {
      const fs = this.fs as DevptsFilesystem;
      if (![...fs.ptys.values()].some((q) => q.sid === t.tg.sid)) {
        p.sid = t.tg.sid;
        p.fgPgrp = t.tg.pgid;
      }
    }
    return new TtyFile(p, false, this, vd, flags);
  }
}

/** /dev/pts/ptmx and /dev/ptmx: each open makes a new pty and returns its master. */
export class PtmxInode extends Inode {
  constructor(fs: Filesystem, readonly devpts: () => DevptsFilesystem | null) {
    super(fs, S_IFCHR | 0o666);
    this.rdev = makedev(5, 2);
  }
  open(_t: Task, vd: VirtualDentry, flags: number): FileDescription {
    const pts = this.devpts();
    if (!pts) throw new SysError(Errno.ENODEV);
    const pty = pts.allocate();
    return new TtyFile(pty, true, this, vd, flags);
  }
}

class DevptsRoot extends Inode {
  declare readonly fs: DevptsFilesystem;
  override lookup(name: string): Inode | null {
    if (name === "ptmx") return this.fs.ptmx;
    const p = this.fs.ptys.get(Number(name));
    return /^\d+$/.test(name) && p ? this.fs.inodeFor(p) : null;
  }
  override entries(): DirEntry[] {
    const out: DirEntry[] = [{ name: "ptmx", ino: this.fs.ptmx.ino, type: direntType(S_IFCHR) }];
    for (const p of this.fs.ptys.values()) {
      out.push({ name: String(p.index), ino: p.ino, type: direntType(S_IFCHR) });
    }
    return out;
  }
  open(_t: Task, vd: VirtualDentry, flags: number): FileDescription {
    return new DirectoryFile(this, vd, flags);
  }
}

/** devpts: the slaves of the ptys made through its ptmx. */
export class DevptsFilesystem extends Filesystem {
  readonly name = "devpts";
  readonly ptys = new Map<number, Pty>();
  readonly #inodes = new WeakMap<Pty, PtsInode>();
  readonly #root: DevptsRoot;
  readonly ptmx: PtmxInode;
  #mount: Mount | null = null;

  constructor(readonly kernel: Kernel) {
    super();
    this.cacheDentries = false;
    this.#root = new DevptsRoot(this, S_IFDIR | 0o755);
    this.ptmx = new PtmxInode(this, () => this);
    devptsOf.set(kernel, this);
  }

  root(): Inode {
    return this.#root;
  }

  allocate(): Pty {
    let i = 0;
    while (this.ptys.has(i)) i++;
    const p = new Pty(this.kernel, i, this);
    this.ptys.set(i, p);
    return p;
  }

  remove(p: Pty): void {
    this.ptys.delete(p.index);
  }

  inodeFor(p: Pty): PtsInode {
    let i = this.#inodes.get(p);
    if (!i) this.#inodes.set(p, i = new PtsInode(this, p));
    return i;
  }

  /** A VirtualDentry for a slave opened without a path (TIOCGPTPEER). */
  vdFor(ino: Inode): VirtualDentry {
    this.#mount ??= new Mount(this, new Dentry("/", null, this.#root), null, null, {
      anonymous: true,
    });
    return new VirtualDentry(
      this.#mount,
      new Dentry(String((ino as PtsInode).pty.index), this.#mount.root, ino),
    );
  }
}

const devptsOf = new WeakMap<Kernel, DevptsFilesystem>();

/** The devpts instance of a kernel (the last one mounted), for /dev/ptmx. */
export function devptsFor(k: Kernel): DevptsFilesystem | null {
  return devptsOf.get(k) ?? null;
}

/** Opens /dev/tty: the controlling terminal of t's session. */
export function openControllingTty(t: Task, flags: number): FileDescription {
  const pts = devptsFor(t.kernel);
  const p = pts ? [...pts.ptys.values()].find((p) => p.sid && p.sid === t.tg.sid) : undefined;
  if (!p || !pts) throw new SysError(Errno.ENXIO);
  const ino = pts.inodeFor(p);
  return new TtyFile(p, false, ino, pts.vdFor(ino), flags);
}
