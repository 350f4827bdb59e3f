/**
 * The terminal of a container whose process.terminal is set (`create --console-socket`, `exec
 * --tty --console-socket`), as runc's callers expect it: a host pty whose master (controller)
 * is sent over the console socket with SCM_RIGHTS, and whose slave goes to the sandbox. The
 * slave is made raw: it only carries bytes, and the Sentry's own pty (sentry/fs/host_console.ts)
 * is the application's terminal, line discipline and job control included.
 *
 * @module
 */

import { closeFd, HostError } from "../host/libc.ts";
import { openAt } from "../host/fsops.ts";
import { ioctlBuf } from "../host/io.ts";
import { AT_FDCWD, O_CLOEXEC, O_NOCTTY, O_RDWR } from "../abi/linux/file.ts";
import { connectUnix, sendMsg, SOCK_STREAM, unixSocket } from "../host/socket.ts";
import { CliError } from "./command.ts";

const TCGETS = 0x5401n, TCSETS = 0x5402n;
const TIOCGPTN = 0x80045430n, TIOCSPTLCK = 0x40045431n;
// termios: c_iflag, c_oflag, c_cflag, c_lflag (u32 each) at 0, 4, 8, 12.
const IGNBRK = 1, BRKINT = 2, PARMRK = 0o10, ISTRIP = 0o40, INLCR = 0o100, IGNCR = 0o200;
const ICRNL = 0o400, IXON = 0o2000, OPOST = 1, CSIZE = 0o60, PARENB = 0o400, CS8 = 0o60;
const ECHO = 0o10, ECHONL = 0o100, ICANON = 2, ISIG = 1, IEXTEN = 0o100000;

function ioctl(fd: number, req: bigint, buf: Uint8Array<ArrayBuffer>, what: string): void {
  const r = ioctlBuf(fd, req, buf);
  if (r < 0) throw new HostError(what, -r);
}

/** Makes terminal `fd` raw (cfmakeraw). */
function makeRaw(fd: number): void {
  const t = new Uint8Array(60);
  ioctl(fd, TCGETS, t, "TCGETS");
  const v = new DataView(t.buffer);
  const and = (off: number, mask: number) => v.setUint32(off, v.getUint32(off, true) & ~mask, true);
  and(0, IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  and(4, OPOST);
  and(12, ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  and(8, CSIZE | PARENB);
  v.setUint32(8, v.getUint32(8, true) | CS8, true);
  ioctl(fd, TCSETS, t, "TCSETS");
}

/**
 * Makes a host pty, sends its master over the Unix socket at `consoleSocket`, and returns the
 * slave (raw, close-on-exec) for the sandbox. Throws CliError when any step fails.
 */
export function openConsole(consoleSocket: string): number {
  let master = -1, slave = -1, sock = -1;
  try {
    master = openAt(AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    ioctl(master, TIOCSPTLCK, new Uint8Array(4), "unlockpt");
    const n = new Uint8Array(4);
    ioctl(master, TIOCGPTN, n, "ptsname");
    const name = `/dev/pts/${new DataView(n.buffer).getUint32(0, true)}`;
    slave = openAt(AT_FDCWD, name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    makeRaw(slave);
    sock = unixSocket(SOCK_STREAM);
    connectUnix(sock, consoleSocket);
    // As runc: the message's data is the terminal's name, the master rides along.
    sendMsg(sock, new TextEncoder().encode(name), [master]);
    return slave;
  } catch (e) {
    if (slave >= 0) closeFd(slave);
    throw new CliError(`console socket ${consoleSocket}: ${(e as Error).message}`, { cause: e });
  } finally {
    if (master >= 0) closeFd(master);
    if (sock >= 0) closeFd(sock);
  }
}
