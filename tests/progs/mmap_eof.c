// A shared file mapping past the end of its file: the last page's bytes past the end read as
// zeroes and stores there never reach the file; a touch of a page wholly past the end raises
// SIGBUS (BUS_ADRERR, at the address touched), also after ftruncate cuts a mapped file; pages
// the file grows to hold become the file's, and a store made before a cut is not written back
// when the file grows again. A mapping may be far larger than its file (1 TiB of a one-page
// file). The argument is the directory to work in.
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

static long pg;
static sigjmp_buf jb;
static volatile int got_sig, got_code;
static volatile char *got_addr;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  got_sig = sig;
  got_code = si->si_code;
  got_addr = si->si_addr;
  siglongjmp(jb, 1);
}

// Touches a (a load, or a store of c), and prints what happened, addresses relative to base.
static void touch(const char *what, volatile char *base, long off, int store, char c) {
  volatile char *a = base + off;
  got_sig = 0;
  if (sigsetjmp(jb, 1) == 0) {
    char v = 0;
    if (store) *a = c;
    else v = *a;
    printf("%s: %s ok (%d)\n", what, store ? "store" : "load", v);
    return;
  }
  printf("%s: %s, si_code %d, at +%ld\n", what, strsignal(got_sig), got_code,
         (long)(got_addr - base));
}

static void file_at(int fd, const char *what, long off) {
  char buf[16] = {0};
  long n = pread(fd, buf, 8, off);
  for (int i = 0; i < 8; i++) {
    if (buf[i] == 0) buf[i] = '.';
  }
  printf("%s: pread %ld \"%.8s\"\n", what, n, buf);
}

// Prints /proc/self/maps' lines for the probe's file: one per mapping, however it is made.
static void maps(const char *when) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    if (!strstr(line, "mmap-eof-probe")) continue;
    unsigned long lo, hi, off;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s %lx", &lo, &hi, perms, &off) != 4) continue;
    printf("maps %s: %s offset %lx, %ld pages\n", when, perms, off, (long)((hi - lo) / pg));
  }
  if (f) fclose(f);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pg = sysconf(_SC_PAGESIZE);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);

  char path[256];
  snprintf(path, sizeof path, "%s/mmap-eof-probe", argc > 1 ? argv[1] : "/tmp");
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    show("open", -1);
    return 1;
  }
  // One page and 100 bytes: the second page is the partial last one.
  ftruncate(fd, pg + 100);
  pwrite(fd, "first", 5, 0);
  pwrite(fd, "second", 6, pg);
  char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    show("mmap", -1);
    return 1;
  }
  maps("after mmap");
  int nonzero = 0;
  for (long i = 100; i < pg; i++) nonzero += p[pg + i] != 0;
  printf("bytes past the end in the last page that are not zero: %d\n", nonzero);
  touch("past the end in the last page", p, pg + 200, 1, 'x');
  touch("the page after the last", p, 2 * pg, 0, 0);
  touch("a store two pages past the end", p, 3 * pg + 8, 1, 'y');
  msync(p, 4 * pg, MS_SYNC);
  struct stat st;
  fstat(fd, &st);
  show("size after stores past the end", st.st_size);

  // The file grows: the page it now holds is the file's; the store made in the last page past
  // the old end was not written back.
  ftruncate(fd, 3 * pg);
  file_at(fd, "the old last page past its end, grown", pg + 200);
  touch("the page after the last, grown", p, 2 * pg, 0, 0);
  memcpy(p + 2 * pg, "grown", 5);
  file_at(fd, "the grown page after a store", 2 * pg);
  touch("still past the end", p, 3 * pg, 0, 0);

  // The file is cut: its pages past the new end leave the mapping; grown again, they read as
  // zeroes, whatever was stored before the cut.
  memcpy(p + 2 * pg, "doomed", 6);
  ftruncate(fd, pg);
  touch("a cut page", p, 2 * pg, 1, 'z');
  touch("the page after the new end", p, pg, 0, 0);
  touch("the last page kept", p, 0, 0, 0);
  maps("after a cut");
  ftruncate(fd, 3 * pg);
  file_at(fd, "a cut page, grown again", 2 * pg);
  touch("a cut page, grown again", p, 2 * pg, 0, 0);
  // read(2) into a page past the end is EFAULT.
  ftruncate(fd, pg);
  errno = 0;
  long r = pread(fd, p + 2 * pg, 8, 0);
  printf("pread into a page past the end: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  munmap(p, 4 * pg);

  // A private mapping the same: SIGBUS past the end; the pages the file grows to hold are
  // copies of what it holds then; a cut takes even the private copies of the pages it removes.
  char *q = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  touch("private, the page after the last", q, pg, 0, 0);
  touch("private, in the last page", q, 10, 1, 'p');
  ftruncate(fd, 3 * pg);
  pwrite(fd, "later", 5, 2 * pg);
  touch("private, a page grown", q, 2 * pg, 0, 0);
  maps("with a private map");
  q[2 * pg + 1] = 'A';
  printf("private, a page grown, after a store: %.5s\n", q + 2 * pg);
  file_at(fd, "the file under a private store", 2 * pg);
  ftruncate(fd, pg);
  touch("private, a stored page cut", q, 2 * pg, 0, 0);
  touch("private, the kept page", q, 10, 0, 0);
  munmap(q, 4 * pg);

  // A mapping far larger than its file: the file's page, then SIGBUS at the far end.
  char *big = mmap(NULL, 1L << 40, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (big == MAP_FAILED) show("mmap 1 TiB of a one-page file", -1);
  else {
    touch("1 TiB map, first page", big, 0, 0, 0);
    touch("1 TiB map, last page", big, (1L << 40) - pg, 0, 0);
    maps("1 TiB");
    show("munmap 1 TiB", munmap(big, 1L << 40));
  }

  // After fork the child's copy of a mapping ends where the file does too, and a cut the child
  // makes reaches the parent's mapping.
  ftruncate(fd, pg);
  char *f = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ftruncate(fd, 2 * pg);
  pid_t c = fork();
  if (c == 0) {
    touch("child, a page the file grew to", f, pg, 0, 0);
    touch("child, past the end", f, 2 * pg, 0, 0);
    ftruncate(fd, pg);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  touch("parent, a page the child cut", f, pg, 0, 0);
  touch("parent, the page kept", f, 0, 0, 0);
  munmap(f, 3 * pg);
  close(fd);
  unlink(path);
  return 0;
}
