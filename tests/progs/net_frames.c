// Malformed frames for a network stack (tests/net_veth_test.ts): run natively on the peer
// end of a veth, it sends through a packet socket truncated and inconsistent Ethernet, ARP,
// IPv4, IPv6, ICMP, NDP, TCP and UDP headers, then random bytes, to the stack at <dst-mac>
// and <dst-ip>. The stack must drop them all and keep running.
// Usage: net_frames <ifname> <dst-mac> <dst-ip> <count>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd;
static struct sockaddr_ll to;
static unsigned char dst_mac[6], src_mac[6];
static unsigned char dst_ip[4];
static unsigned int seed = 12345;
static long sent;

static unsigned rnd(void) {
  seed = seed * 1103515245u + 12345u;
  return seed >> 8;
}

static void send_frame(unsigned short type, const unsigned char *payload, int len) {
  unsigned char f[2048];
  if (len > (int)sizeof f - 14) len = sizeof f - 14;
  memcpy(f, dst_mac, 6);
  memcpy(f + 6, src_mac, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  memcpy(f + 14, payload, len);
  if (sendto(fd, f, 14 + len, 0, (struct sockaddr *)&to, sizeof to) >= 0) sent++;
}

static unsigned short csum(const unsigned char *b, int n, unsigned sum) {
  for (int i = 0; i + 1 < n; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (n & 1) sum += b[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

// An IPv4 header to dst_ip from 10.99.77.77 with the given fields and a valid checksum.
static int ipv4(unsigned char *p, int ihl, int total, int proto, int frag) {
  memset(p, 0, 60);
  p[0] = 0x40 | (ihl & 0xf);
  p[2] = total >> 8;
  p[3] = total & 0xff;
  p[6] = frag >> 8;
  p[7] = frag & 0xff;
  p[8] = 64;
  p[9] = proto;
  unsigned char src[4] = {10, 99, 77, 77};
  memcpy(p + 12, src, 4);
  memcpy(p + 16, dst_ip, 4);
  int h = ihl * 4 < 20 ? 20 : ihl * 4;
  unsigned short c = csum(p, h > 60 ? 60 : h, 0);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return h;
}

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  int count = atoi(argv[4]);
  fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  struct ifreq ifr = {0};
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) return 1;
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifr.ifr_ifindex;
  to.sll_halen = 6;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) return 1;
  memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
  sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst_mac[0], &dst_mac[1], &dst_mac[2],
         &dst_mac[3], &dst_mac[4], &dst_mac[5]);
  memcpy(to.sll_addr, dst_mac, 6);
  inet_pton(AF_INET, argv[3], dst_ip);
  unsigned char p[1600];
  const unsigned short types[] = {0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, 0x0000};

  // Every short length of every type.
  for (int t = 0; t < 6; t++) {
    for (int len = 0; len < 64; len++) {
      for (int i = 0; i < len; i++) p[i] = rnd();
      send_frame(types[t], p, len);
    }
  }
  // ARP: bad sizes and types, hostile sender addresses, truncated.
  for (int i = 0; i < 64; i++) {
    unsigned char a[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    if (i & 1) a[4] = rnd();
    if (i & 2) a[5] = rnd();
    if (i & 4) a[7] = rnd();
    for (int j = 8; j < 14; j++) a[j] = (i & 8) ? 0xff : rnd();
    unsigned char sip[4] = {(i & 16) ? 224 : 10, 99, 0, (i & 32) ? 255 : 66};
    memcpy(a + 14, sip, 4);
    memcpy(a + 24, dst_ip, 4);
    send_frame(0x0806, a, (i % 7 == 0) ? i % 28 : 28);
  }
  // IPv4: every header length with inconsistent total lengths, fragments, bad versions.
  for (int ihl = 0; ihl < 16; ihl++) {
    const int totals[] = {0, 1, 19, 20, 21, 40, 64, 1500, 65535};
    for (int k = 0; k < 9; k++) {
      const int protos[] = {1, 6, 17, 58, 255};
      for (int q = 0; q < 5; q++) {
        int h = ipv4(p, ihl, totals[k], protos[q], (k & 1) ? 0x2000 : (k & 2) ? 0x0010 : 0);
        for (int i = h; i < 120; i++) p[i] = rnd();
        send_frame(0x0800, p, 20 + (rnd() % 100));
      }
    }
  }
  // IPv4 with a consistent header and a hostile transport header.
  for (int i = 0; i < 400; i++) {
    int plen = rnd() % 80;
    int proto = (const int[]){1, 6, 17}[i % 3];
    int h = ipv4(p, 5, 20 + plen, proto, 0);
    for (int j = 0; j < plen; j++) p[h + j] = rnd();
    if (proto == 6 && plen >= 13) p[h + 12] = (rnd() % 16) << 4;  // any data offset
    if (proto == 17 && plen >= 8) {
      p[h + 4] = rnd();  // any UDP length
      p[h + 6] = p[h + 7] = 0;
    }
    if (proto == 1 && plen >= 8) {
      p[h] = (i & 1) ? 3 : 8;  // unreachable quoting junk, echo requests
      p[h + 1] = 3;
      p[h + 2] = p[h + 3] = 0;
      unsigned short c = csum(p + h, plen, 0);
      p[h + 2] = c >> 8;
      p[h + 3] = c & 0xff;
    }
    send_frame(0x0800, p, h + plen);
  }
  // IPv6: lying payload lengths, NDP with zero-length and overlong options, bad hop limits,
  // v4-mapped addresses.
  for (int i = 0; i < 300; i++) {
    memset(p, 0, 40);
    p[0] = 0x60;
    int plen = rnd() % 64;
    int claim = (i % 3 == 0) ? rnd() % 0x10000 : plen;
    p[4] = claim >> 8;
    p[5] = claim & 0xff;
    p[6] = (const int[]){58, 6, 17, 0, 44}[i % 5];
    p[7] = (i & 8) ? 64 : 255;
    p[8] = 0xfe;
    p[9] = 0x80;
    p[23] = 7;
    if (i & 16) {
      p[18] = p[19] = 0xff;  // ::ffff:a.b.c.d
      memset(p + 8, 0, 10);
    }
    p[24] = 0xff;
    p[25] = 0x02;
    p[35] = 1;
    p[36] = 0xff;
    for (int j = 0; j < plen; j++) p[40 + j] = rnd();
    if (p[6] == 58 && plen >= 32) {
      p[40] = (i & 1) ? 135 : 136;
      p[41] = 0;
      p[64] = 1 + (i & 1);
      p[65] = (i & 4) ? 0 : 200;  // zero-length option, option past the end
    }
    send_frame(0x86dd, p, 40 + plen);
  }
  // Random bytes of any length under each type.
  for (int i = 0; i < count; i++) {
    int len = rnd() % 1500;
    for (int j = 0; j < len; j++) p[j] = rnd();
    if (len > 20 && (i & 1)) ipv4(p, 5 + (rnd() % 11), len, 6, 0);
    send_frame(types[i % 6], p, len);
  }
  printf("sent %ld frames\n", sent);
  return 0;
}
