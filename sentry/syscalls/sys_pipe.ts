/**
 * pipe(2), pipe2(2), eventfd(2), eventfd2(2), memfd_create(2): descriptors for objects that
 * live only in the Sentry.
 *
 * @module
 */

import { Errno } from "../../abi/linux/errno.ts";
import type { Task } from "../kernel/task.ts";
import { EventFd } from "../fs/eventfd.ts";
import { newMemfd } from "../fs/memfd.ts";
import { newPipe } from "../fs/pipe.ts";
import { O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_RDWR } from "../vfs/file.ts";
import { argInt, argPtr, argU32 } from "./args.ts";
import { SysError } from "../../abi/linux/error.ts";
import type { SyscallDef } from "./table.ts";
import { array, encodeValue, i32 } from "../../abi/linux/layout.ts";

function pipe2Common(t: Task, addr: bigint, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) throw new SysError(Errno.EINVAL);
  const [r, w] = newPipe(flags & O_NONBLOCK);
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const rfd = t.fdTable.install(r, cloexec);
  let wfd;
  try {
    wfd = t.fdTable.install(w, cloexec);
  } catch (e) {
    t.fdTable.close(rfd);
    w.release();
    throw e;
  }
  try {
    t.mm.copyOut(addr, encodeValue(array(i32, 2), [rfd, wfd]));
  } catch (e) {
    t.fdTable.close(rfd);
    t.fdTable.close(wfd);
    throw e;
  }
  return 0;
}

const EFD_SEMAPHORE = 1;

function eventfd2(t: Task, initval: number, flags: number): number {
  if (flags & ~(EFD_SEMAPHORE | O_CLOEXEC | O_NONBLOCK)) throw new SysError(Errno.EINVAL);
  const f = new EventFd(
    BigInt(initval),
    (flags & EFD_SEMAPHORE) !== 0,
    O_RDWR | (flags & O_NONBLOCK),
  );
  return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
}

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const MFD_HUGETLB = 4;
const MFD_NOEXEC_SEAL = 8;
const MFD_EXEC = 0x10;

/** Implements Linux syscall memfd_create(2). */
function memfdCreate(t: Task): number {
  const name = t.mm.copyInString(argPtr(t, 0), 250);
  const flags = argU32(t, 1);
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC)) {
    throw new SysError(Errno.EINVAL);
  }
  if (flags & MFD_HUGETLB) throw new SysError(Errno.EINVAL);
  return t.fdTable.install(newMemfd(t.kernel, name), (flags & MFD_CLOEXEC) !== 0);
}

export const syscalls: Record<string, SyscallDef> = {
  pipe: { handler: (t) => pipe2Common(t, argPtr(t, 0), 0), args: ["x"] },
  pipe2: { handler: (t) => pipe2Common(t, argPtr(t, 0), argInt(t, 1)), args: ["x", "x"] },
  eventfd: { handler: (t) => eventfd2(t, argU32(t, 0), 0), args: ["d"] },
  eventfd2: { handler: (t) => eventfd2(t, argU32(t, 0), argInt(t, 1)), args: ["d", "x"] },
  memfd_create: {
    handler: memfdCreate,
    support: "partial",
    note: "no seals (F_ADD_SEALS fails with EINVAL)",
    args: ["s", "x"],
  },
};
