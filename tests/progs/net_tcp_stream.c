// A long TCP stream over loopback, IPv4 then IPv6, writes and reads of pseudo-random sizes
// (1 byte to 250 KB, past what one packet of the loopback carries): every byte is checked
// against what was written at its offset. Prints what arrived and how many bytes differed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (48L << 20)

static unsigned long long mix(unsigned long long x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

static void stream(int family) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  int l = socket(family, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (struct sockaddr *)&ss, len) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&ss, &len)) {
    perror("listen");
    exit(1);
  }
  unsigned char *b = malloc(300000);
  pid_t c = fork();
  if (c == 0) {
    int s = socket(family, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&ss, len)) _exit(1);
    for (long done = 0; done < TOTAL;) {
      long n = (long)(mix(done) % 250000) + 1;
      if (n > TOTAL - done) n = TOTAL - done;
      for (long i = 0; i < n; i++) b[i] = (unsigned char)mix(done + i);
      for (long w = 0; w < n;) {
        ssize_t k = write(s, b + w, n - w);
        if (k <= 0) _exit(2);
        w += k;
      }
      done += n;
    }
    _exit(0);
  }
  int s = accept(l, NULL, NULL);
  long got = 0, bad = 0;
  while (got < TOTAL) {
    ssize_t n = read(s, b, (size_t)(mix(got * 7) % 200000) + 1);
    if (n <= 0) break;
    for (long i = 0; i < n; i++) bad += b[i] != (unsigned char)mix(got + i);
    got += n;
  }
  int st;
  waitpid(c, &st, 0);
  printf("%s: %ld bytes, %ld differ, writer exit %d\n", family == AF_INET ? "ipv4" : "ipv6", got,
         bad, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  free(b);
  close(s);
  close(l);
}

int main(void) {
  stream(AF_INET);
  stream(AF_INET6);
  return 0;
}
