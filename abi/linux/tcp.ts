/**
 * TCP's socket-option structs (linux/tcp.h).
 *
 * @module
 */

import { struct, u32, u8 } from "./layout.ts";

/** tcpi_options bits. */
export const TCPI_OPT_TIMESTAMPS = 1;
export const TCPI_OPT_SACK = 2;
export const TCPI_OPT_WSCALE = 4;

/** tcpi_ca_state: the congestion control state machine's states (TCP_CA_*). */
export const TCP_CA_OPEN = 0;
export const TCP_CA_RECOVERY = 3;
export const TCP_CA_LOSS = 4;

/** ssthresh before the first loss, as TCP_INFO reports it (TCP_INFINITE_SSTHRESH). */
export const TCP_INFINITE_SSTHRESH = 0x7fffffff;

/**
 * struct tcp_info up to tcpi_total_retrans (the 104 bytes every kernel since 2.6 has; the rest
 * of today's struct is left out, and getsockopt reports the length it wrote).
 */
export const TcpInfo = struct("tcp_info", 104, {
  state: [0, u8],
  caState: [1, u8],
  retransmits: [2, u8],
  probes: [3, u8],
  backoff: [4, u8],
  options: [5, u8],
  /** tcpi_snd_wscale in the low 4 bits, tcpi_rcv_wscale in the high 4. */
  wscale: [6, u8],
  rto: [8, u32],
  ato: [12, u32],
  sndMss: [16, u32],
  rcvMss: [20, u32],
  unacked: [24, u32],
  sacked: [28, u32],
  lost: [32, u32],
  retrans: [36, u32],
  fackets: [40, u32],
  lastDataSent: [44, u32],
  lastAckSent: [48, u32],
  lastDataRecv: [52, u32],
  lastAckRecv: [56, u32],
  pmtu: [60, u32],
  rcvSsthresh: [64, u32],
  rtt: [68, u32],
  rttvar: [72, u32],
  sndSsthresh: [76, u32],
  sndCwnd: [80, u32],
  advmss: [84, u32],
  reordering: [88, u32],
  rcvRtt: [92, u32],
  rcvSpace: [96, u32],
  totalRetrans: [100, u32],
});
