/**
 * --strace: one line per system call with its arguments decoded by the table's ArgKinds.
 *
 * @module
 */

import { signalName } from "../../abi/linux/signal.ts";
import type { Task } from "../kernel/task.ts";
import type { ArgKind, SyscallEntry } from "./table.ts";

type FlagTable = [bigint, string][];

const PROT: FlagTable = [[1n, "PROT_READ"], [2n, "PROT_WRITE"], [4n, "PROT_EXEC"]];
const MAP: FlagTable = [
  [0x1n, "MAP_SHARED"],
  [0x2n, "MAP_PRIVATE"],
  [0x10n, "MAP_FIXED"],
  [0x20n, "MAP_ANONYMOUS"],
  [0x100n, "MAP_GROWSDOWN"],
  [0x800n, "MAP_DENYWRITE"],
  [0x4000n, "MAP_NORESERVE"],
  [0x8000n, "MAP_POPULATE"],
  [0x20000n, "MAP_STACK"],
  [0x100000n, "MAP_FIXED_NOREPLACE"],
];
const OPEN: FlagTable = [
  [0o100n, "O_CREAT"],
  [0o200n, "O_EXCL"],
  [0o400n, "O_NOCTTY"],
  [0o1000n, "O_TRUNC"],
  [0o2000n, "O_APPEND"],
  [0o4000n, "O_NONBLOCK"],
  [0o200000n, "O_DIRECTORY"],
  [0o400000n, "O_NOFOLLOW"],
  [0o2000000n, "O_CLOEXEC"],
  [0o10000000n, "O_PATH"],
  [0o20200000n, "O_TMPFILE"],
];
const CLONE: FlagTable = [
  [0x100n, "CLONE_VM"],
  [0x200n, "CLONE_FS"],
  [0x400n, "CLONE_FILES"],
  [0x800n, "CLONE_SIGHAND"],
  [0x4000n, "CLONE_VFORK"],
  [0x8000n, "CLONE_PARENT"],
  [0x10000n, "CLONE_THREAD"],
  [0x40000n, "CLONE_SYSVSEM"],
  [0x80000n, "CLONE_SETTLS"],
  [0x100000n, "CLONE_PARENT_SETTID"],
  [0x200000n, "CLONE_CHILD_CLEARTID"],
  [0x1000000n, "CLONE_CHILD_SETTID"],
];
const WAIT: FlagTable = [
  [1n, "WNOHANG"],
  [2n, "WUNTRACED"],
  [4n, "WEXITED"],
  [8n, "WCONTINUED"],
  [0x01000000n, "WNOWAIT"],
  [0x40000000n, "__WALL"],
  [0x80000000n, "__WCLONE"],
];

/** "A|B|0x40" for the bits of v named in the table; `zero` when v is 0. */
function flags(v: bigint, table: FlagTable, zero: string): string {
  const names: string[] = [];
  let rest = v;
  for (const [bit, name] of table) {
    if ((rest & bit) === bit && bit !== 0n) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0n) names.push(`0x${rest.toString(16)}`);
  return names.length ? names.join("|") : zero;
}

function openFlags(v: bigint): string {
  const acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][Number(v & 3n)];
  const rest = flags(v & ~3n, OPEN, "");
  return rest ? `${acc}|${rest}` : acc;
}

function cloneFlags(v: bigint): string {
  const sig = Number(v & 0xffn);
  const f = flags(v & ~0xffn, CLONE, "");
  const s = sig ? signalName(sig) : "";
  return [f, s].filter((x) => x).join("|") || "0";
}

/** The call as `name(arg, ...)`, reading string and buffer arguments from the task. */
export function formatCall(t: Task, entry: SyscallEntry | undefined, nr: number): string {
  if (!entry) return `syscall_${nr}(...)`;
  const kinds: ArgKind[] = entry.args ?? ["x", "x", "x"];
  const parts: string[] = [];
  for (let i = 0; i < kinds.length; i++) {
    const v = t.regs.arg(i);
    switch (kinds[i]) {
      case "d": {
        const n = Number(BigInt.asIntN(32, v));
        parts.push(n === -100 ? "AT_FDCWD" : String(n));
        break;
      }
      case "l":
        parts.push(String(BigInt.asIntN(64, v)));
        break;
      case "S":
        parts.push(v > 0n && v <= 64n ? signalName(Number(v)) : String(BigInt.asIntN(32, v)));
        break;
      case "P":
        parts.push(flags(v, PROT, "PROT_NONE"));
        break;
      case "M":
        parts.push(flags(v, MAP, "0"));
        break;
      case "O":
        parts.push(openFlags(v));
        break;
      case "C":
        parts.push(cloneFlags(v));
        break;
      case "W":
        parts.push(flags(v, WAIT, "0"));
        break;
      case "o":
        parts.push("0" + v.toString(8));
        break;
      case "s":
        try {
          parts.push(JSON.stringify(t.mm.copyInString(v, 256)));
        } catch {
          parts.push(`0x${v.toString(16)}`);
        }
        break;
      case "b": {
        const n = Math.min(Number(t.regs.arg(i + 1)), 32);
        try {
          parts.push(JSON.stringify(new TextDecoder().decode(t.mm.copyIn(v, n))));
        } catch {
          parts.push(`0x${v.toString(16)}`);
        }
        break;
      }
      default:
        parts.push(`0x${v.toString(16)}`);
    }
  }
  return `${entry.name}(${parts.join(", ")})`;
}
