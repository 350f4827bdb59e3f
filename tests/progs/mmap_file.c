// File mappings are the file's pages: MAP_SHARED stores are seen by every other mapping of the
// file (after fork, or mapped again by another process) and by read(2); write(2) shows in every
// mapping; a private mapping starts from what the file holds (shared stores included) and keeps
// its own stores; mremap growing a private file mapping maps more of the file; truncation
// zeroes what it cuts; a mapping may be far larger than its file, and what it maps past the
// end becomes the file's as the file grows; the descriptor's access mode bounds what may be
// mapped. The argument is the directory to work in (the gofer root, or /tmp's tmpfs).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

static long pg;

static void child_does(void (*fn)(void *), void *arg) {
  pid_t c = fork();
  if (c == 0) {
    fn(arg);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
}

static void store_in_child(void *p) {
  memcpy(p, "stored by the child", 19);
}

static const char *path;

// Another process maps the file on its own (not inherited) and stores through its mapping.
static void map_and_store(void *unused) {
  (void)unused;
  int fd = open(path, O_RDWR);
  char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return;
  memcpy(m + pg + 200, "another process's map", 21);
  munmap(m, 2 * pg);
  close(fd);
}

static void print_at(const char *what, const char *p, int n) {
  char buf[64] = {0};
  memcpy(buf, p, n);
  for (int i = 0; i < n; i++) {
    if (buf[i] == 0) buf[i] = '.';
  }
  printf("%s: %s\n", what, buf);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pg = sysconf(_SC_PAGESIZE);
  char name[256];
  snprintf(name, sizeof name, "%s/mmap-file-probe", argc > 1 ? argv[1] : "/tmp");
  path = name;
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    show("open", -1);
    return 1;
  }
  ftruncate(fd, 3 * pg);
  pwrite(fd, "page zero", 9, 0);
  pwrite(fd, "page two", 8, 2 * pg);

  char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    show("mmap shared", -1);
    return 1;
  }
  print_at("shared map shows the file", p, 9);

  child_does(store_in_child, p);
  print_at("child's store through the inherited map", p, 19);

  char *q = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
  print_at("a second map of the file", q, 19);
  munmap(q, pg);

  child_does(map_and_store, NULL);
  print_at("another process's own map", p + pg + 200, 21);

  char buf[64] = {0};
  memcpy(p + 100, "stored through the map", 22);
  pread(fd, buf, 22, 100);
  print_at("read(2) after a store", buf, 22);

  pwrite(fd, "written by pwrite", 17, pg + 10);
  print_at("the map after write(2)", p + pg + 10, 17);

  memcpy(p + 2 * pg + 50, "synced", 6);
  show("msync MS_SYNC", msync(p, 3 * pg, MS_SYNC));
  show("msync MS_ASYNC|MS_INVALIDATE", msync(p, pg, MS_ASYNC | MS_INVALIDATE));
  memset(buf, 0, sizeof buf);
  pread(fd, buf, 6, 2 * pg + 50);
  print_at("read(2) after msync", buf, 6);

  struct stat st;
  fstat(fd, &st);
  show("size unchanged by stores", st.st_size);

  // A mapping far larger than its file: the file's pages are still the file's.
  char *big = mmap(NULL, 1L << 28, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (big == MAP_FAILED) show("mmap 256 MiB of a 3-page file", -1);
  else {
    memcpy(big + 2 * pg + 60, "big", 3);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 3, 2 * pg + 60);
    print_at("read(2) after a store through a 256 MiB map", buf, 3);
    munmap(big, 1L << 28);
  }

  // A private map starts from the file's contents, shared stores included; its stores stay its
  // own.
  char *r = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  print_at("private map sees shared stores", r + 100, 22);
  memcpy(r, "private store", 13);
  memset(buf, 0, sizeof buf);
  pread(fd, buf, 13, 0);
  print_at("file after a private store", buf, 13);
  print_at("shared map after a private store", p, 13);
  show("madvise DONTNEED", madvise(r, pg, MADV_DONTNEED));
  print_at("private map after DONTNEED", r, 13);
  // The same after fork, where the private pages are shared copy-on-write with the child.
  memcpy(r, "private again", 13);
  pid_t c = fork();
  if (c == 0) _exit(0);
  waitpid(c, NULL, 0);
  madvise(r, pg, MADV_DONTNEED);
  print_at("private map after fork and DONTNEED", r, 13);

  // mremap growing a private file mapping maps more of the file.
  char *s = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
  char *g = mremap(s, pg, 3 * pg, MREMAP_MAYMOVE);
  if (g == MAP_FAILED) show("mremap private", -1);
  else print_at("private map grown by mremap", g + 2 * pg, 8);

  // Truncation cuts the mapped pages: grown again, they read as zeroes.
  ftruncate(fd, pg);
  ftruncate(fd, 3 * pg);
  print_at("map after truncate and regrow", p + 2 * pg, 8);
  print_at("page kept by the truncate", p, 9);

  munmap(p, 3 * pg);
  munmap(r, 3 * pg);
  munmap(g, 3 * pg);
  close(fd);

  // Stores reach the file after munmap and close.
  fd = open(path, O_RDONLY);
  memset(buf, 0, sizeof buf);
  pread(fd, buf, 22, 100);
  print_at("reopened after munmap", buf, 22);

  // /proc/self/maps gives each mapping's file offset.
  char *m1 = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 2 * pg);
  char *m2 = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, pg);
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  while (maps && fgets(line, sizeof line, maps)) {
    if (!strstr(line, "mmap-file-probe")) continue;
    char *f = strchr(strchr(line, ' ') + 1, ' ');
    printf("maps: %.4s offset %.8s\n", strchr(line, ' ') + 1, f + 1);
  }
  if (maps) fclose(maps);
  munmap(m1, pg);
  munmap(m2, pg);

  // mremap with an old size of 0 maps the same shared memory again; private memory cannot be.
  int dfd = open(path, O_RDWR);
  char *d0 = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, pg);
  char *d1 = mremap(d0, 0, 2 * pg, MREMAP_MAYMOVE);
  if (d1 == MAP_FAILED) show("mremap duplicate of a file map", -1);
  else {
    memcpy(d1 + pg + 30, "via the duplicate", 17);
    print_at("the original map after a store through the duplicate", d0 + pg + 30, 17);
    munmap(d1, 2 * pg);
  }
  show("duplicate without MREMAP_MAYMOVE", mremap(d0, 0, pg, 0) == MAP_FAILED ? -1 : 0);
  munmap(d0, 2 * pg);
  close(dfd);
  char *an = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memcpy(an + pg, "anon", 4);
  char *an2 = mremap(an + pg, 0, pg, MREMAP_MAYMOVE);
  if (an2 == MAP_FAILED) show("mremap duplicate of shared anonymous memory", -1);
  else {
    memcpy(an2, "ANON", 4);
    print_at("shared anonymous memory after a store through the duplicate", an + pg, 4);
    munmap(an2, pg);
  }
  munmap(an, 2 * pg);
  char *pv = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("duplicate of private memory", mremap(pv, 0, pg, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
  munmap(pv, pg);

  // A mapping made before the file has the pages: they become the file's as it grows, by
  // ftruncate or by write(2).
  char grow_path[300];
  snprintf(grow_path, sizeof grow_path, "%s-grow", path);
  int gfd = open(grow_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  char *gm = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, gfd, 0);
  ftruncate(gfd, pg);
  memcpy(gm + 10, "grown", 5);
  memset(buf, 0, sizeof buf);
  pread(gfd, buf, 5, 10);
  print_at("store after ftruncate grew the file", buf, 5);
  pwrite(gfd, "later", 5, pg + 20);
  print_at("write(2) past the old end, through the map", gm + pg + 20, 5);
  munmap(gm, 2 * pg);
  close(gfd);
  unlink(grow_path);

  // The access mode bounds the mapping.
  errno = 0;
  show("shared writable map of O_RDONLY",
       mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
  char *ro = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
  show("mprotect write on it", mprotect(ro, pg, PROT_READ | PROT_WRITE));
  show("private writable map of O_RDONLY",
       mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
  close(fd);
  fd = open(path, O_WRONLY);
  show("map of O_WRONLY", mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
  close(fd);
  fd = open(path, O_RDWR | O_APPEND);
  show("shared writable map of O_APPEND",
       mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
  close(fd);
  unlink(path);
  return 0;
}
