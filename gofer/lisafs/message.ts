/**
 * LISAFS messages: the ids (an append-only enum following gVisor's pkg/lisafs numbering) and,
 * for every message this implementation speaks, one description of its request and response
 * fields, from which both sides encode and decode. See README.md for the semantics.
 *
 * @module
 */

import {
  array,
  bytes,
  type Codec,
  i32,
  i64,
  type Infer,
  str,
  struct,
  u16,
  u32,
  u64,
  u64n,
  u8,
} from "./codec.ts";

/**
 * Message ids. Append only: a number, once given, keeps its meaning forever. The values follow
 * gVisor's pkg/lisafs/message.go (0..31 checked there; 32 follows later upstream versions);
 * 33 is this implementation's own.
 */
export const MID = {
  Error: 0,
  Mount: 1,
  Channel: 2,
  FStat: 3,
  SetStat: 4,
  Walk: 5,
  WalkStat: 6,
  OpenAt: 7,
  OpenCreateAt: 8,
  Close: 9,
  FSync: 10,
  PWrite: 11,
  PRead: 12,
  MkdirAt: 13,
  MknodAt: 14,
  SymlinkAt: 15,
  LinkAt: 16,
  FStatFS: 17,
  FAllocate: 18,
  ReadLinkAt: 19,
  Flush: 20,
  Connect: 21,
  UnlinkAt: 22,
  RenameAt: 23,
  Getdents64: 24,
  FGetXattr: 25,
  FSetXattr: 26,
  FListXattr: 27,
  FRemoveXattr: 28,
  BindAt: 29,
  Listen: 30,
  Accept: 31,
  ConnectWithCreds: 32,
  // Ours, not upstream's: RenameAt with renameat2(2) flags.
  RenameAt2: 33,
} as const;

/** A message id. */
export type MID = (typeof MID)[keyof typeof MID];

/** The name of message id `mid`, or `MID(n)` when unknown. */
export function midName(mid: number): string {
  for (const [k, v] of Object.entries(MID)) if (v === mid) return k;
  return `MID(${mid})`;
}

/** The header in front of every message: {payloadLen u32, mid u16, pad u16}, little-endian. */
export const HEADER_SIZE = 8;

/** The largest message (header included) the server sends or accepts; announced by Mount. */
export const MAX_MESSAGE_SIZE = 1 << 20;

/**
 * Messages that modify the file system: on a node of a read-only mount they fail with EROFS
 * (before anything else is checked, so a read-only mount answers EROFS however it is asked).
 */
export const WRITE_MESSAGES: ReadonlySet<number> = new Set([
  MID.SetStat,
  MID.OpenCreateAt,
  MID.PWrite,
  MID.MkdirAt,
  MID.MknodAt,
  MID.SymlinkAt,
  MID.LinkAt,
  MID.FAllocate,
  MID.UnlinkAt,
  MID.RenameAt,
  MID.RenameAt2,
  MID.FSetXattr,
  MID.FRemoveXattr,
  MID.BindAt,
]);

/** SetStat mask bits (the statx STATX_* values). */
export const SetStatMask = {
  Mode: 0x2,
  Uid: 0x8,
  Gid: 0x10,
  Atime: 0x20,
  Mtime: 0x40,
  Size: 0x200,
} as const;

/** A uid or gid that means "leave unchanged" (and, for creation, "the gofer's own"). */
export const NO_ID = 0xffffffff;

/** Why a Walk stopped. */
export const WalkStatus = {
  /** Every component was walked. */
  Success: 0,
  /** A component does not exist; the inodes before it are returned. */
  ComponentDoesNotExist: 1,
  /** A component is a symlink; it is the last inode returned. */
  ComponentSymlink: 2,
} as const;

// --- Shared field types -----------------------------------------------------------------------

/** A connection-local FD id (control or open), a u64 on the wire. Never 0, never reused. */
export const fdid = u64n;

/** File attributes (a subset of statx); times in nanoseconds since the epoch. */
export const StatCodec = struct({
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  rdev: u32,
  blksize: u32,
  size: u64n,
  blocks: u64n,
  ino: u64,
  dev: u64,
  atimeNs: u64,
  mtimeNs: u64,
  ctimeNs: u64,
});
/** File attributes as the client returns them. */
export type Stat = Infer<typeof StatCodec>;

/** A file node on the server: its control FD id and attributes. */
export const InodeCodec = struct({ fd: fdid, stat: StatCodec });
export type Inode = Infer<typeof InodeCodec>;

/** fstatfs(2) results. */
export const StatFSCodec = struct({
  type: u64,
  blockSize: u64,
  blocks: u64,
  blocksFree: u64,
  blocksAvailable: u64,
  files: u64,
  filesFree: u64,
  nameLength: u64,
});
export type StatFS = Infer<typeof StatFSCodec>;

/** One directory entry (struct linux_dirent64 without the record length). */
export const DirentCodec = struct({ ino: u64, off: u64, type: u8, name: str });
export type Dirent = Infer<typeof DirentCodec>;

/** A point in time: seconds and nanoseconds, nsec may be UTIME_NOW or UTIME_OMIT. */
export const TimespecCodec = struct({ sec: i64, nsec: i64 });
export type Timespec = Infer<typeof TimespecCodec>;

const none = struct({});
const fdOnly = struct({ fd: fdid });
const childResp = struct({ child: InodeCodec });

/** A request/response pair. */
export interface MessageSpec<Req, Resp> {
  readonly req: Codec<Req>;
  readonly resp: Codec<Resp>;
}

function spec<Req, Resp>(req: Codec<Req>, resp: Codec<Resp>): MessageSpec<Req, Resp> {
  return { req, resp };
}

/** The payload of an Error response: a Linux errno. */
export const ErrorResp = struct({ errno: u32 });

/** Every message this implementation encodes, indexed by id. */
export const MESSAGES = {
  // path: "/" for the root file system, or a bind mount's destination as the spec gives it.
  [MID.Mount]: spec(
    struct({ path: str }),
    // filestore: 1 when the overlay filestore of this mount comes donated with the response.
    struct({
      root: InodeCodec,
      readonly: u8,
      filestore: u8,
      maxMessageSize: u32,
      supported: array(u16),
    }),
  ),
  [MID.SetStat]: spec(
    struct({
      fd: fdid,
      mask: u32,
      mode: u32,
      uid: u32,
      gid: u32,
      size: u64,
      atime: TimespecCodec,
      mtime: TimespecCodec,
    }),
    // The mask bits that were not applied, and the errno of the first failure.
    struct({ failureMask: u32, failureErrno: u32 }),
  ),
  [MID.OpenCreateAt]: spec(
    struct({ dirFd: fdid, name: str, flags: u32, mode: u32, uid: u32, gid: u32 }),
    struct({ child: InodeCodec, openFd: fdid }),
  ),
  [MID.FSync]: spec(struct({ fds: array(fdid) }), none),
  [MID.PWrite]: spec(struct({ fd: fdid, offset: u64, data: bytes }), struct({ count: u64n })),
  [MID.MkdirAt]: spec(
    struct({ dirFd: fdid, name: str, mode: u32, uid: u32, gid: u32 }),
    childResp,
  ),
  [MID.MknodAt]: spec(
    struct({ dirFd: fdid, name: str, mode: u32, uid: u32, gid: u32, major: u32, minor: u32 }),
    childResp,
  ),
  [MID.SymlinkAt]: spec(
    struct({ dirFd: fdid, name: str, target: str, uid: u32, gid: u32 }),
    childResp,
  ),
  [MID.LinkAt]: spec(struct({ dirFd: fdid, name: str, target: fdid }), childResp),
  [MID.FAllocate]: spec(struct({ fd: fdid, mode: u32, offset: u64, length: u64 }), none),
  [MID.Flush]: spec(fdOnly, none),
  [MID.Connect]: spec(struct({ fd: fdid, sockType: u32 }), none),
  [MID.UnlinkAt]: spec(struct({ dirFd: fdid, name: str, flags: u32 }), none),
  [MID.RenameAt]: spec(
    struct({ oldDirFd: fdid, oldName: str, newDirFd: fdid, newName: str }),
    none,
  ),
  [MID.RenameAt2]: spec(
    struct({ oldDirFd: fdid, oldName: str, newDirFd: fdid, newName: str, flags: u32 }),
    none,
  ),
  [MID.FGetXattr]: spec(struct({ fd: fdid, name: str, size: u32 }), struct({ value: bytes })),
  [MID.FSetXattr]: spec(struct({ fd: fdid, name: str, value: bytes, flags: u32 }), none),
  [MID.FListXattr]: spec(struct({ fd: fdid, size: u32 }), struct({ names: array(str) })),
  [MID.FRemoveXattr]: spec(struct({ fd: fdid, name: str }), none),
  [MID.BindAt]: spec(
    struct({ dirFd: fdid, name: str, sockType: u32, mode: u32, uid: u32, gid: u32 }),
    struct({ child: InodeCodec, boundSocketFd: fdid }),
  ),
  [MID.Listen]: spec(struct({ fd: fdid, backlog: i32 }), none),
  [MID.Accept]: spec(fdOnly, struct({ peerAddr: str })),
  [MID.ConnectWithCreds]: spec(struct({ fd: fdid, sockType: u32, uid: u32, gid: u32 }), none),
  [MID.FStat]: spec(fdOnly, StatCodec),
  [MID.Walk]: spec(
    struct({ dirFd: fdid, names: array(str) }),
    struct({ status: u8, inodes: array(InodeCodec) }),
  ),
  [MID.WalkStat]: spec(
    struct({ dirFd: fdid, names: array(str) }),
    struct({ stats: array(StatCodec) }),
  ),
  [MID.OpenAt]: spec(struct({ fd: fdid, flags: u32 }), struct({ openFd: fdid })),
  [MID.Close]: spec(struct({ fds: array(fdid) }), none),
  [MID.PRead]: spec(
    struct({ offset: u64, fd: fdid, count: u32 }),
    struct({ data: bytes }),
  ),
  [MID.FStatFS]: spec(fdOnly, StatFSCodec),
  [MID.ReadLinkAt]: spec(fdOnly, struct({ target: str })),
  // count < 0: rewind the directory first, then read |count| bytes' worth of entries.
  [MID.Getdents64]: spec(
    struct({ fd: fdid, count: i32 }),
    struct({ dirents: array(DirentCodec) }),
  ),
} as const;

/** Ids that have a description in MESSAGES. */
export type ImplementedMID = keyof typeof MESSAGES;
/** The request of message `M`. */
export type Req<M extends ImplementedMID> = Infer<(typeof MESSAGES)[M]["req"]>;
/** The response of message `M`. */
export type Resp<M extends ImplementedMID> = Infer<(typeof MESSAGES)[M]["resp"]>;
