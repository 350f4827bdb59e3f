/**
 * TCP congestion control: NewReno (RFC 5681 slow start and congestion avoidance, RFC 6582
 * recovery). The endpoint keeps the recovery's bookkeeping (which holes were sent again);
 * this file decides how much may be in flight.
 *
 * @module
 */

/** The initial window in segments (RFC 6928, Linux's TCP_INIT_CWND). */
export const INITIAL_WINDOW_SEGMENTS = 10;

export class NewReno {
  /** The congestion window, bytes. */
  cwnd: number;
  /** The slow start threshold, bytes (unbounded until the first loss). */
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew. */
  #acked = 0;

  constructor(mss: number) {
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  /** New data was acknowledged outside a recovery. */
  onAck(acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      // Slow start counts what was acknowledged (RFC 3465), as Linux counts packets: one ACK
      // for a batch of segments grows the window as much as one ACK per segment would.
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd + mss));
      return;
    }
    // Congestion avoidance: one segment more per window acknowledged.
    this.#acked += acked;
    if (this.#acked >= this.cwnd) {
      this.#acked -= this.cwnd;
      this.cwnd += mss;
    }
  }

  /** A loss detected by duplicate ACKs: the window halves (RFC 5681 equation 4). */
  onFastRetransmit(flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = this.ssthresh;
    this.#acked = 0;
  }

  /** The recovery ended with everything up to its point acknowledged (RFC 6582 3.2 step 3). */
  onRecovered(flight: number, mss: number): void {
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
  }

  /** The retransmission timer fired: back to one segment and slow start. */
  onTimeout(flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss;
    this.#acked = 0;
  }
}
