/**
 * The initial process stack: argument and environment strings, the auxiliary vector, and the
 * pointer arrays, laid out as Linux's create_elf_tables does, so that a C runtime reads them
 * where it expects.
 *
 * @module
 */

import type { MemoryManager } from "../mm/mm.ts";
import { encodeBytes } from "../../host/utf8b.ts";
import { AT, Elf64Auxv } from "../../abi/linux/elf.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { CLK_TCK } from "../../abi/linux/rusage.ts";

/** The host's own auxv values that describe the CPU, which the application sees unchanged. */
function hostAuxv(): Map<number, bigint> {
  const m = new Map<number, bigint>();
  try {
    const b = Deno.readFileSync("/proc/self/auxv");
    for (const e of Elf64Auxv.decodeArray(b, Math.floor(b.length / Elf64Auxv.size))) {
      m.set(Number(e.type), e.val);
    }
  } catch {
    // Without /proc the CPU capability words stay 0; the C library then probes CPUID itself.
  }
  return m;
}

let cachedHostAuxv: Map<number, bigint> | undefined;

export interface StackImage {
  argv: string[];
  envp: string[];
  execfn: string;
  /** Pairs for the auxiliary vector, not counting the ones added here. */
  auxv: [number, bigint][];
}

/**
 * Writes the initial stack below `top` and returns the stack pointer, which points at argc.
 */
export function setupStack(mm: MemoryManager, top: bigint, img: StackImage): bigint {
  cachedHostAuxv ??= hostAuxv();
  let sp = top;
  const push = (bytes: Uint8Array): bigint => {
    sp -= BigInt(bytes.length);
    mm.copyOut(sp, bytes);
    return sp;
  };
  const pushString = (s: string): bigint => {
    const b = encodeBytes(s);
    const z = new Uint8Array(b.length + 1);
    z.set(b);
    return push(z);
  };
  sp -= 8n; // end marker, as Linux leaves one word of zeroes at the very top
  const execfn = pushString(img.execfn);
  const envPtrs = img.envp.map(pushString);
  const argPtrs = img.argv.map(pushString);
  const platform = pushString("x86_64");
  sp &= ~15n;
  const random = push(crypto.getRandomValues(new Uint8Array(16)));

  const auxv: [number, bigint][] = [
    ...img.auxv,
    [AT.PAGESZ, BigInt(PAGE_SIZE)],
    [AT.CLKTCK, CLK_TCK],
    [AT.HWCAP, cachedHostAuxv.get(AT.HWCAP) ?? 0n],
    [AT.HWCAP2, cachedHostAuxv.get(AT.HWCAP2) ?? 0n],
    [AT.PLATFORM, platform],
    [AT.RANDOM, random],
    [AT.EXECFN, execfn],
    [AT.SECURE, 0n],
  ];
  const minsig = cachedHostAuxv.get(AT.MINSIGSTKSZ);
  if (minsig !== undefined) auxv.push([AT.MINSIGSTKSZ, minsig]);
  auxv.push([AT.NULL, 0n]);

  // argc, argv[], NULL, envp[], NULL, auxv pairs: align so that sp ends 16-byte aligned.
  const words = 1 + argPtrs.length + 1 + envPtrs.length + 1 + auxv.length * 2;
  sp &= ~15n;
  if (words % 2 === 1) sp -= 8n;
  const table = new BigUint64Array(words);
  let i = 0;
  table[i++] = BigInt(img.argv.length);
  for (const p of argPtrs) table[i++] = p;
  table[i++] = 0n;
  for (const p of envPtrs) table[i++] = p;
  table[i++] = 0n;
  for (const [k, v] of auxv) {
    table[i++] = BigInt(k);
    table[i++] = v;
  }
  return push(new Uint8Array(table.buffer));
}
