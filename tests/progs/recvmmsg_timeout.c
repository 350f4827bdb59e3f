// recvmmsg(2) timeouts: checked after each datagram, so a zero timeout returns after the
// first; a longer one takes what is there (with MSG_DONTWAIT) and writes back what is left.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int burst(int s, int n) {
  for (int i = 0; i < n; i++) send(s, "dgram", 5, 0);
  return n;
}

int main(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  char bufs[5][16];
  struct iovec iov[5];
  struct mmsghdr msgs[5];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < 5; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  burst(sv[0], 3);
  struct timespec zero = {0, 0};
  printf("zero timeout: %d\n", recvmmsg(sv[1], msgs, 5, 0, &zero));
  struct timespec second = {1, 0};
  printf("one second, don't wait: %d\n", recvmmsg(sv[1], msgs, 5, MSG_DONTWAIT, &second));
  printf("time left written back: %d\n", second.tv_sec == 0 && second.tv_nsec > 500000000);
  burst(sv[0], 2);
  printf("no timeout: %d, length %u\n", recvmmsg(sv[1], msgs, 5, MSG_DONTWAIT, NULL), msgs[0].msg_len);
  return 0;
}
