// sendfile(2) from a file to a non-blocking TCP socket over loopback, until the socket's buffer
// fills (EAGAIN) and again after the reader drains it, with an offset pointer and with the file's
// own offset (Python's socket.sendfile): every byte arrives once and in order, and the offsets
// count exactly what was sent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#define SIZE (8L << 20)

static unsigned char pattern(long i) { return (unsigned char)((i * 7 + i / 4096) % 251); }

static long received, mismatches;

// Reads what is there (without waiting); checks each byte against its place in the file.
static int drain(int s) {
  static unsigned char buf[65536];
  for (;;) {
    long n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return 0;
    if (n < 0) return errno == EAGAIN ? 1 : -1;
    for (long i = 0; i < n; i++)
      if (buf[i] != pattern(received + i)) mismatches++;
    received += n;
  }
}

static void round_trip(const char *what, int file, int use_off) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) < 0) {
    show("listen", -1);
    return;
  }
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) show("connect", -1);
  int s = accept(l, NULL, NULL);
  fcntl(c, F_SETFL, O_NONBLOCK);
  received = mismatches = 0;
  lseek(file, 0, SEEK_SET);
  off_t off = 0, sent = 0;
  int eagains = 0, errors = 0;
  while (sent < SIZE) {
    long r = sendfile(c, file, use_off ? &off : NULL, SIZE - sent);
    if (r > 0) {
      sent += r;
      continue;
    }
    if (r < 0 && errno == EAGAIN) {
      eagains++;
      if (drain(s) < 0) break;
      continue;
    }
    errors++;
    break;
  }
  shutdown(c, SHUT_WR);
  while (drain(s) == 1) {
  }
  printf("%s: received %ld of %ld, mismatches %ld, errors %d, waited %s\n", what, received, SIZE,
         mismatches, errors, eagains ? "yes" : "no");
  printf("%s: offset %ld, file offset %ld\n", what, (long)(use_off ? off : sent),
         (long)lseek(file, 0, SEEK_CUR));
  close(s);
  close(c);
  close(l);
}

// splice from a pipe into a full non-blocking socket: EAGAIN, and the pipe keeps its bytes
// for the next splice once the socket drains.
static void splice_to_full_socket(void) {
  int sv[2], p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(p)) show("socketpair/pipe", -1);
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  static char fill[4096];
  long filled = 0;
  for (long r; (r = write(sv[0], fill, sizeof fill)) > 0;) filled += r;
  write(p[1], "piece", 5);
  errno = 0;
  long r = splice(p[0], NULL, sv[0], NULL, 5, SPLICE_F_NONBLOCK);
  printf("splice into a full socket: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  int left = -1;
  ioctl(p[0], FIONREAD, &left);
  printf("bytes left in the pipe: %d\n", left);
  for (long got = 0; got < filled;) {
    long g = read(sv[1], fill, sizeof fill);
    if (g <= 0) break;
    got += g;
  }
  printf("splice after draining: %ld\n", (long)splice(p[0], NULL, sv[0], NULL, 5, SPLICE_F_NONBLOCK));
  char got[8] = {0};
  printf("peer reads: %ld [%s]\n", (long)read(sv[1], got, sizeof got), got);
  close(sv[0]);
  close(sv[1]);
  close(p[0]);
  close(p[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[] = "/tmp/sendfile.XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  static unsigned char buf[65536];
  for (long i = 0; i < SIZE; i += sizeof buf) {
    for (long j = 0; j < (long)sizeof buf; j++) buf[j] = pattern(i + j);
    if (write(file, buf, sizeof buf) != sizeof buf) show("write", -1);
  }
  round_trip("offset pointer", file, 1);
  round_trip("file offset", file, 0);
  // count is a size_t: 2^32 + 5 asks for more than the file holds, not for 5 bytes.
  int p[2];
  if (pipe(p)) show("pipe", -1);
  off_t from = SIZE - 10;
  long n = sendfile(p[1], file, &from, (1UL << 32) + 5);
  printf("sendfile of 2^32+5 bytes from 10 left: %ld\n", n);
  splice_to_full_socket();
  return 0;
}
