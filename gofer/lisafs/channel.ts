/**
 * Message framing on a connected SOCK_STREAM Unix socket: an 8-byte header
 * {payloadLen u32, mid u16, pad u16} then the payload; descriptors travel as SCM_RIGHTS with
 * the header's bytes. Both calls block the calling thread.
 *
 * @module
 */

import { closeFd } from "../../host/libc.ts";
import { recvMsg, sendAll } from "../../host/socket.ts";
import { HEADER_SIZE } from "./message.ts";

const EMSGSIZE = 90;
const EPROTO = 71;

/** A framed message as received. */
export interface Message {
  mid: number;
  payload: Uint8Array<ArrayBuffer>;
  /** Descriptors that came with the message (close-on-exec); the receiver owns them. */
  fds: number[];
}

/**
 * The byte stream no longer holds whole messages (truncated header or payload, or a payload
 * larger than allowed): the connection cannot continue. `errno` says what kind.
 */
export class FramingError extends Error {
  constructor(readonly errno: number, message: string) {
    super(`lisafs: ${message}`);
    this.name = "FramingError";
  }
}

/** Sends one message, attaching `fds` (which stay open on our side). */
export function sendMessage(
  sock: number,
  mid: number,
  payload: Uint8Array<ArrayBuffer>,
  fds: readonly number[] = [],
): void {
  const buf = new Uint8Array(HEADER_SIZE + payload.length);
  const v = new DataView(buf.buffer);
  v.setUint32(0, payload.length, true);
  v.setUint16(4, mid, true);
  buf.set(payload, HEADER_SIZE);
  sendAll(sock, buf, fds);
}

/** Reads exactly `buf.length` bytes; returns how many were read before end of stream. */
function recvFull(sock: number, buf: Uint8Array<ArrayBuffer>, fds: number[]): number {
  let off = 0;
  while (off < buf.length) {
    const r = recvMsg(sock, buf.subarray(off));
    fds.push(...r.fds);
    if (r.truncatedFds) throw new FramingError(EPROTO, "descriptors were truncated");
    if (r.n === 0) break;
    off += r.n;
  }
  return off;
}

/**
 * Receives one message of at most `maxSize` bytes (header included). Returns null at a clean
 * end of stream (between messages). Throws FramingError when the stream ends inside a message
 * or announces one that is too large. Descriptors that came with a failed message are closed.
 */
export function recvMessage(sock: number, maxSize: number): Message | null {
  const fds: number[] = [];
  try {
    const header = new Uint8Array(HEADER_SIZE);
    const got = recvFull(sock, header, fds);
    if (got === 0) {
      closeAll(fds);
      return null;
    }
    if (got < HEADER_SIZE) {
      throw new FramingError(EPROTO, `truncated header: ${got} of ${HEADER_SIZE} bytes`);
    }
    const v = new DataView(header.buffer);
    const len = v.getUint32(0, true);
    const mid = v.getUint16(4, true);
    if (len > maxSize - HEADER_SIZE) {
      throw new FramingError(EMSGSIZE, `payload of ${len} bytes exceeds ${maxSize - HEADER_SIZE}`);
    }
    const payload = new Uint8Array(len);
    const n = recvFull(sock, payload, fds);
    if (n < len) throw new FramingError(EPROTO, `truncated payload: ${n} of ${len} bytes`);
    return { mid, payload, fds };
  } catch (e) {
    closeAll(fds);
    throw e;
  }
}

/** Closes every descriptor in `fds`. */
export function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeFd(fd);
}
