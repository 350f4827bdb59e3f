#define _GNU_SOURCE
/*
 * RLIMIT_NOFILE and hard limits: above nr_open is EPERM even for root, nr_open itself is
 * allowed; an unprivileged task cannot raise its hard limit; an FD bomb stops at the soft
 * limit with EMFILE. Run as root.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void try(const char *what, rlim_t cur, rlim_t max) {
  struct rlimit r = {cur, max};
  int rc = setrlimit(RLIMIT_NOFILE, &r);
  printf("%s: %s\n", what, rc == 0 ? "ok" : strerror(errno));
}

int main(void) {
  try("nofile nr_open+1", 1048577, 1048577);
  try("nofile nr_open", 1048576, 1048576);
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  printf("now: %llu %llu\n", (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
  try("nofile lower", 256, 512);
  try("nofile cur>max", 1024, 512);
  if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) {
    perror("setresuid");
    return 1;
  }
  try("uid 1000 raise hard", 256, 1024);
  try("uid 1000 raise soft", 512, 512);
  try("uid 1000 lower hard", 300, 300);
  try("uid 1000 raise back", 300, 512);
  int n = 0, fd;
  while ((fd = dup(0)) >= 0) n++;
  printf("fd bomb: %d more, last fd below 300, %s\n", n, strerror(errno));
  return 0;
}
