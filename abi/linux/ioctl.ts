/**
 * The generic and terminal ioctl(2) requests on x86-64 (asm-generic/ioctls.h), and the
 * structs the terminal ones pass: struct termios (the kernel's, 36 bytes) and struct winsize.
 *
 * @module
 */

import { bytes, struct, u16, u32, u8 } from "./layout.ts";

export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TCSBRK = 0x5409;
export const TCXONC = 0x540a;
export const TCFLSH = 0x540b;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCOUTQ = 0x5411;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const TIOCNOTTY = 0x5422;
export const TIOCGSID = 0x5429;
export const TIOCGPTN = 0x80045430;
export const TIOCSPTLCK = 0x40045431;
export const TIOCGPTPEER = 0x5441;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIOASYNC = 0x5452;

/** The number of control characters in the kernel's struct termios. */
export const NCCS = 19;

/** struct termios, as TCGETS and TCSETS pass it. */
export const Termios = struct("termios", 36, {
  iflag: [0, u32],
  oflag: [4, u32],
  cflag: [8, u32],
  lflag: [12, u32],
  line: [16, u8],
  cc: [17, bytes(NCCS)],
});

/** struct winsize. */
export const Winsize = struct("winsize", 8, {
  row: [0, u16],
  col: [2, u16],
  xpixel: [4, u16],
  ypixel: [6, u16],
});
