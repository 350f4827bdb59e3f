// mremap growing a shared mapping of a file maps more of that file: what the file holds shows
// in the new part, and writes there reach the file (test_mmap's resize tests), whether the
// mapping grows in place or moves.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "probe.h"

static void check(const char *how, int flags, int block_after) {
  long pg = sysconf(_SC_PAGESIZE);
  char path[64];
  snprintf(path, sizeof path, "/tmp/mremap-%s", how);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  ftruncate(fd, 3 * pg);
  pwrite(fd, "third page", 10, 2 * pg);
  // Three pages reserved, the file mapped over the first: the next page is free to grow into,
  // or, kept mapped, blocks growing in place.
  char *p = mmap(NULL, 3 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mmap(p, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  munmap(p + (block_after ? 2 : 1) * pg, (block_after ? 1 : 2) * pg);
  char *q = mremap(p, pg, 3 * pg, flags);
  if (q == MAP_FAILED) {
    printf("%s: mremap: %s\n", how, strerror(errno));
    return;
  }
  printf("%s: moved %d\n", how, q != p);
  printf("%s: file's third page in the mapping: %.10s\n", how, q + 2 * pg);
  memcpy(q + pg, "second", 6);
  memcpy(q + 2 * pg, "THIRD", 5);
  char buf[16] = {0};
  pread(fd, buf, 6, pg);
  printf("%s: file's second page: %s\n", how, buf);
  memset(buf, 0, sizeof buf);
  pread(fd, buf, 10, 2 * pg);
  printf("%s: file's third page: %s\n", how, buf);
  pwrite(fd, "written", 7, pg + 100);
  printf("%s: a write to the file shows in the mapping: %.7s\n", how, q + pg + 100);
  munmap(q, 3 * pg);
  if (block_after) munmap(p + pg, pg);
  close(fd);
  unlink(path);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  check("in-place", MREMAP_MAYMOVE, 0);
  check("moved", MREMAP_MAYMOVE, 1);
  check("not-moved", 0, 1);
  return 0;
}
