// A splice from a pipe into a slow pipe races a reader of the same pipe: every
// byte written must reach exactly one of them. Records are 8-byte counters, and every read,
// write and splice moves a multiple of 8 bytes, so each consumer sees whole records.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define RECORDS (1 << 17) // 1 MiB through the pipe
#define BATCH 512         // records per write: 4096 bytes, atomic

static int p[2], q[2];
static unsigned char seen[RECORDS];
static int bad_order;

static void mark(const uint64_t *r, size_t n, uint64_t *last) {
  for (size_t i = 0; i < n; i++) {
    if (r[i] >= RECORDS) {
      bad_order++;
      continue;
    }
    if (*last != UINT64_MAX && r[i] <= *last) bad_order++;
    *last = r[i];
    __atomic_add_fetch(&seen[r[i]], 1, __ATOMIC_RELAXED);
  }
}

// Drains fd with reads of `size` bytes, counting each record it gets.
static void drain(int fd, size_t size) {
  uint64_t *buf = malloc(size), last = UINT64_MAX;
  for (;;) {
    ssize_t n = read(fd, buf, size);
    if (n == 0) break;
    if (n < 0 || n % 8) {
      printf("read: %zd\n", n);
      exit(1);
    }
    mark(buf, n / 8, &last);
  }
  free(buf);
}

static void *reader(void *arg) {
  (void)arg;
  drain(p[0], 4096);
  return NULL;
}

// The slow side: q is read in small pieces, so the splice into it keeps waiting for room.
static void *slow(void *arg) {
  (void)arg;
  drain(q[0], 256);
  return NULL;
}

static void *splicer(void *arg) {
  (void)arg;
  for (;;) {
    ssize_t n = splice(p[0], NULL, q[1], NULL, 65536, 0);
    if (n == 0) break;
    if (n < 0) {
      perror("splice");
      exit(1);
    }
  }
  close(q[1]);
  return NULL;
}

int main(void) {
  // A pipe spliced into itself is refused (it would wait on its own lock on Linux).
  if (pipe(p)) return 1;
  if (write(p[1], "abc", 3) != 3) return 1;
  errno = 0;
  ssize_t self = splice(p[0], NULL, p[1], NULL, 3, 0);
  printf("splice into its own pipe: %zd %s\n", self, strerror(errno));
  // sendfile cannot read a pipe (Linux has no splice_read for it), whatever the output.
  errno = 0;
  ssize_t sf = sendfile(p[1], p[0], NULL, 3);
  printf("sendfile from a pipe: %zd %s\n", sf, strerror(errno));
  close(p[0]);
  close(p[1]);
  if (pipe(p) || pipe(q)) {
    perror("pipe");
    exit(1);
  }
  pthread_t tr, ts, tq;
  pthread_create(&tr, NULL, reader, NULL);
  pthread_create(&ts, NULL, splicer, NULL);
  pthread_create(&tq, NULL, slow, NULL);
  uint64_t buf[BATCH];
  for (uint64_t k = 0; k < RECORDS; k += BATCH) {
    for (int i = 0; i < BATCH; i++) buf[i] = k + i;
    if (write(p[1], buf, sizeof buf) != sizeof buf) {
      perror("write");
      exit(1);
    }
  }
  close(p[1]);
  pthread_join(tr, NULL);
  pthread_join(ts, NULL);
  pthread_join(tq, NULL);
  close(p[0]);
  close(q[0]);
  int lost = 0, dup = 0;
  for (int i = 0; i < RECORDS; i++) {
    if (seen[i] == 0) lost++;
    if (seen[i] > 1) dup++;
  }
  printf("records lost %d, duplicated %d, out of order %d\n", lost, dup, bad_order);
  return 0;
}
