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

/** Bytes a Receiver reads ahead: any request or response but bulk data fits at once. */
const RECV_BUFFER = 64 * 1024;

/**
 * Receives framed messages from one socket, reading with each recvmsg as much as has arrived
 * (up to RECV_BUFFER bytes): a message and its header in one system call rather than two.
 * Bytes past the message stay for the next call, and so do descriptors past it: Linux ends a
 * read right after the bytes that carried descriptors, and a sender attaches them to bytes of
 * their own message (sendMessage: to its first), so they belong to the message holding the
 * last byte of the read that brought them.
 */
export class Receiver {
  #buf = new Uint8Array(RECV_BUFFER);
  #view = new DataView(this.#buf.buffer);
  #start = 0;
  #end = 0;
  /** Descriptors read ahead, each with the buffer offset just past the read that brought it. */
  #pending: { at: number; fds: number[] }[] = [];

  /** @param sock a connected SOCK_STREAM Unix socket (not owned). */
  constructor(readonly sock: number) {}

  /** As recvMessage, from this receiver's socket and what it read ahead. */
  recv(maxSize: number): Message | null {
    const fds: number[] = [];
    try {
      if (!this.#fill(HEADER_SIZE)) {
        const got = this.#end - this.#start;
        if (got === 0) {
          this.#take(this.#end, fds);
          closeAll(fds);
          return null;
        }
        throw new FramingError(EPROTO, `truncated header: ${got} of ${HEADER_SIZE} bytes`);
      }
      const len = this.#view.getUint32(this.#start, true);
      const mid = this.#view.getUint16(this.#start + 4, true);
      if (len > maxSize - HEADER_SIZE) {
        throw new FramingError(
          EMSGSIZE,
          `payload of ${len} bytes exceeds ${maxSize - HEADER_SIZE}`,
        );
      }
      this.#start += HEADER_SIZE;
      const payload = new Uint8Array(len);
      const have = Math.min(len, this.#end - this.#start);
      payload.set(this.#buf.subarray(this.#start, this.#start + have));
      this.#start += have;
      this.#take(this.#start, fds);
      if (have < len) {
        // Read ahead is used up: the rest goes straight into the payload, and no further.
        const n = recvFull(this.sock, payload.subarray(have), fds);
        if (have + n < len) {
          throw new FramingError(EPROTO, `truncated payload: ${have + n} of ${len} bytes`);
        }
      }
      return { mid, payload, fds };
    } catch (e) {
      // The stream cannot go on: descriptors read ahead go too.
      this.#take(Infinity, fds);
      closeAll(fds);
      throw e;
    }
  }

  /** Moves into `fds` the descriptors that came with bytes before buffer offset `upTo`. */
  #take(upTo: number, fds: number[]): void {
    while (this.#pending.length > 0 && this.#pending[0].at <= upTo) {
      fds.push(...this.#pending.shift()!.fds);
    }
  }

  /** Reads until `n` bytes are buffered; false when the stream ends first. */
  #fill(n: number): boolean {
    while (this.#end - this.#start < n) {
      if (this.#start === this.#end || this.#buf.length - this.#start < n) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        for (const p of this.#pending) p.at -= this.#start;
        this.#end -= this.#start;
        this.#start = 0;
      }
      const r = recvMsg(this.sock, this.#buf.subarray(this.#end));
      this.#end += r.n;
      if (r.fds.length > 0) this.#pending.push({ at: this.#end, fds: r.fds });
      if (r.truncatedFds) throw new FramingError(EPROTO, "descriptors were truncated");
      if (r.n === 0) return false;
    }
    return true;
  }
}

/** Closes every descriptor in `fds`. */
export function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeFd(fd);
}
