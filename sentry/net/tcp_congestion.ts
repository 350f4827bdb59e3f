/**
 * TCP congestion control: how much may be in flight. NewReno (RFC 5681 slow start and
 * congestion avoidance, RFC 6582 recovery) and CUBIC (RFC 9438), Linux's default; a socket
 * picks one with TCP_CONGESTION ("reno", "cubic"). The endpoint keeps the recovery's
 * bookkeeping (which holes were sent again); the algorithm decides the windows.
 *
 * @module
 */

/** The initial window in segments (RFC 6928, Linux's TCP_INIT_CWND). */
export const INITIAL_WINDOW_SEGMENTS = 10;

/** What the endpoint asks of an algorithm; windows in bytes. */
export interface CongestionControl {
  /** Its TCP_CONGESTION name. */
  readonly name: string;
  /** The congestion window. */
  cwnd: number;
  /** The slow start threshold (unbounded until the first loss). */
  ssthresh: number;
  /**
   * New data was acknowledged outside a recovery; srtt is the smoothed round-trip time in
   * ms (negative: none measured).
   */
  onAck(acked: number, mss: number, srtt?: number): void;
  /** A loss detected by duplicate ACKs: the window shrinks for the recovery. */
  onFastRetransmit(flight: number, mss: number): void;
  /** The recovery ended with everything up to its point acknowledged. */
  onRecovered(flight: number, mss: number): void;
  /** The retransmission timer fired: back to one segment and slow start. */
  onTimeout(flight: number, mss: number): void;
}

/** The algorithms by TCP_CONGESTION name. */
export const CONGESTION_CONTROLS = ["cubic", "reno"] as const;
export type CongestionName = typeof CONGESTION_CONTROLS[number];

/** A new algorithm of that name, taking over the windows of `from` (a socket switching). */
export function newCongestionControl(
  name: CongestionName,
  mss: number,
  from?: CongestionControl,
): CongestionControl {
  const cc = name === "reno" ? new NewReno(mss) : new Cubic(mss);
  if (from) {
    cc.cwnd = from.cwnd;
    cc.ssthresh = from.ssthresh;
  }
  return cc;
}

/** Slow start: what is acknowledged is added, up to ssthresh (RFC 3465 byte counting). */
function slowStart(cc: CongestionControl, acked: number, mss: number): void {
  // One ACK for a batch of segments grows the window as much as one ACK per segment would,
  // as Linux counts packets.
  cc.cwnd = Math.min(cc.cwnd + acked, Math.max(cc.ssthresh, cc.cwnd + mss));
}

export class NewReno implements CongestionControl {
  readonly name = "reno";
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew. */
  #acked = 0;

  constructor(mss: number) {
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  onAck(acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      slowStart(this, acked, mss);
      return;
    }
    // Congestion avoidance: one segment more per window acknowledged.
    this.#acked += acked;
    if (this.#acked >= this.cwnd) {
      this.#acked -= this.cwnd;
      this.cwnd += mss;
    }
  }

  onFastRetransmit(flight: number, mss: number): void {
    // RFC 5681 equation 4.
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = this.ssthresh;
    this.#acked = 0;
  }

  onRecovered(flight: number, mss: number): void {
    // RFC 6582 section 3.2 step 3.
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
  }

  onTimeout(flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss;
    this.#acked = 0;
  }
}

/** RFC 9438's constants: the window's reduction on a loss, and the cubic's scale. */
const BETA = 0.7;
const C = 0.4;
/** The Reno-friendly estimate's growth per round trip, in segments (RFC 9438 4.3). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

/**
 * CUBIC: after a loss the window grows along a cubic of the time since, fast while far below
 * the window where the loss happened, flat around it, then probing beyond; never slower than
 * Reno would (the Reno-friendly estimate). Windows are counted in segments for the curve.
 */
export class Cubic implements CongestionControl {
  readonly name = "cubic";
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** The window (segments) before the last reduction, and the curve's origin and K. */
  #wMax = 0;
  #origin = 0;
  #k = 0;
  /** When the current congestion avoidance epoch began (ms; 0: not begun). */
  #epoch = 0;
  /** The Reno-friendly estimate (segments). */
  #wEst = 0;

  constructor(mss: number) {
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  onAck(acked: number, mss: number, srtt = -1): void {
    if (this.cwnd < this.ssthresh) {
      slowStart(this, acked, mss);
      return;
    }
    const w = this.cwnd / mss;
    const now = performance.now();
    if (this.#epoch === 0) {
      this.#epoch = now;
      this.#origin = Math.max(w, this.#wMax);
      this.#k = w < this.#wMax ? Math.cbrt((this.#wMax - w) / C) : 0;
      this.#wEst = w;
    }
    // The window the curve gives one round trip from now (RFC 9438 section 4.2), when the
    // round trip is known (timestamps).
    const t = (now - this.#epoch + Math.max(0, srtt)) / 1000;
    // The curve's target, bounded so that one window of ACKs grows it by half at most.
    let target = this.#origin + C * (t - this.#k) ** 3;
    target = Math.min(Math.max(target, w), 1.5 * w);
    this.#wEst += (ALPHA * acked) / mss / w;
    if (this.#wEst > target) target = this.#wEst;
    // (target - w) / w segments per segment acknowledged: the target in a round trip.
    this.cwnd += Math.max(0, (acked * (target - w)) / w);
  }

  onFastRetransmit(_flight: number, mss: number): void {
    const w = this.cwnd / mss;
    // Fast convergence: a flow whose window shrank gives room to the newcomers.
    this.#wMax = w < this.#wMax ? (w * (1 + BETA)) / 2 : w;
    this.#epoch = 0;
    this.ssthresh = Math.max(Math.floor(this.cwnd * BETA), 2 * mss);
    this.cwnd = this.ssthresh;
  }

  onRecovered(flight: number, mss: number): void {
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
  }

  onTimeout(_flight: number, mss: number): void {
    this.#wMax = this.cwnd / mss;
    this.#epoch = 0;
    this.ssthresh = Math.max(Math.floor(this.cwnd * BETA), 2 * mss);
    this.cwnd = mss;
  }
}
