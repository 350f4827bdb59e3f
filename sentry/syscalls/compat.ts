/**
 * The compatibility list, generated from the syscall table (`runsc help syscalls`): every
 * x86-64 system call with its support and, where it is partial or not offered, why.
 *
 * @module
 */

import { SYSCALL_TABLE, type SyscallEntry } from "./table.ts";

/** The formats `runsc help syscalls --format=` takes. */
export const COMPAT_FORMATS = ["table", "csv", "json"] as const;
export type CompatFormat = typeof COMPAT_FORMATS[number];

function row(e: SyscallEntry): [string, string, string, string] {
  return [String(e.nr), e.name, e.support, e.note ?? ""];
}

/** The table in `format`, ending with a newline. */
export function formatCompat(format: CompatFormat = "table"): string {
  const entries = SYSCALL_TABLE.filter((e): e is SyscallEntry => e !== undefined);
  if (format === "json") {
    const list = entries.map((e) => ({
      nr: e.nr,
      name: e.name,
      support: e.support,
      note: e.note ?? "",
    }));
    return JSON.stringify(list, null, 2) + "\n";
  }
  if (format === "csv") {
    const q = (s: string) => /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
    return ["nr,name,support,note", ...entries.map((e) => row(e).map(q).join(","))].join("\n") +
      "\n";
  }
  const count = (s: string) => entries.filter((e) => e.support === s).length;
  const nameWidth = Math.max(...entries.map((e) => e.name.length));
  const lines = [
    `Linux/amd64 system calls: ${count("supported")} supported, ${count("partial")} partial, ` +
    `${count("unimplemented")} not offered (ENOSYS).`,
    "",
    `${"NR".padStart(3)}  ${"NAME".padEnd(nameWidth)}  ${"SUPPORT".padEnd(13)}  NOTE`,
    ...entries.map((e) => {
      const [nr, name, support, note] = row(e);
      return `${nr.padStart(3)}  ${name.padEnd(nameWidth)}  ${support.padEnd(13)}  ${note}`
        .trimEnd();
    }),
  ];
  return lines.join("\n") + "\n";
}
