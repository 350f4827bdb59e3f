// munmap of a shared file mapping while another thread stores through it: every store the
// storing thread saw succeed is in the file afterwards (the write-back cannot come before the
// mapping is gone from every thread). The storing thread counts up in the first word of the
// mapping until its store faults; another mapping of the file stays, so the munmap is not its
// last (which writes everything back when it goes). The arguments are the directory to work
// in and another path to the same directory (a second mount of it in the sandbox: a view of
// the file that its first mount's mappings do not share, so it shows what was written back).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "probe.h"

static volatile unsigned long *map;
static volatile unsigned long last;
static sigjmp_buf jb;

static void on_segv(int sig) {
  (void)sig;
  siglongjmp(jb, 1);
}

static void *storer(void *arg) {
  (void)arg;
  if (sigsetjmp(jb, 1) == 0) {
    for (unsigned long i = 1;; i++) {
      map[0] = i;
      last = i;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  long pg = sysconf(_SC_PAGESIZE);
  signal(SIGSEGV, on_segv);
  if (argc < 3) return 2;
  char path[256], other[256];
  snprintf(path, sizeof path, "%s/mmap-unmap-race", argv[1]);
  snprintf(other, sizeof other, "%s/mmap-unmap-race", argv[2]);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    show("open", -1);
    return 1;
  }
  ftruncate(fd, pg);
  void *kept_map = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
  int ofd = open(other, O_RDONLY);
  if (kept_map == MAP_FAILED || ofd < 0) {
    show("mmap or open", -1);
    return 1;
  }
  int kept = 0, rounds = 10;
  for (int r = 0; r < rounds; r++) {
    last = 0;
    map = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      show("mmap", -1);
      return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, storer, NULL);
    // Well into its stores before the mapping goes.
    while (last < 100000) sched_yield();
    munmap((void *)map, pg);
    pthread_join(t, NULL);
    unsigned long v = 0;
    pread(ofd, &v, sizeof v, 0);
    if (v == last) kept++;
    else printf("round %d: the file holds %lu, the last store was %lu\n", r, v, last);
  }
  printf("rounds where the file holds the last store: %d of %d\n", kept, rounds);
  unlink(path);
  return 0;
}
