/**
 * What the CLI, a spare boot and a spare gofer agree on about a spare sandbox's directory
 * (oci/spare.ts). Apart, and importing nothing, so that the gofer and the boot load none of the
 * CLI to know it.
 *
 * @module
 */

/**
 * How long a spare waits to be taken before it ends: a spare holds memory and a platform, and a
 * root whose containers stopped coming should not keep one forever.
 */
export const SPARE_IDLE_MS = 120_000;

/**
 * SPARE_IDLE_MS, or RUNSC_SPARE_IDLE_MS (a positive whole number of ms) from the environment,
 * which the CLI passes on to the spares it makes: tests end their spares sooner with it.
 */
export function spareIdleMs(): number {
  let v: string | undefined;
  try {
    v = Deno.env.get("RUNSC_SPARE_IDLE_MS");
  } catch { /* no environment access: the default */ }
  return v && /^[1-9]\d{0,8}$/.test(v) ? Number(v) : SPARE_IDLE_MS;
}

/** The spare gofer's socket in the spare's directory: one connection, one take line. */
export const GOFER_SPARE_SOCKET = "gofer.sock";

/** The first line the CLI writes on the gofer's spare socket. */
export interface GoferTake {
  /** Absolute path of the bundle, read as `--bundle` would be. */
  bundle: string;
  /** The container id (log paths, filestore names). */
  id: string;
}

/** The gofer's one-line answer: serving, or why not (it then exits). */
export type GoferTakeReply = { ok: true } | { ok: false; error: string };
