// A bind mount with shared file access: a file the host creates while the container runs
// is seen, one the host removes goes away, a size the host changes shows in stat, and a path
// whose directory the host replaced leads to the new directory's file (a cached path must not
// be trusted).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long size_of(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

// Whether the file at p holds exactly want.
static int holds(const char *p, const char *want) {
  char b[16];
  int fd = open(p, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, b, sizeof b);
  close(fd);
  return n == (ssize_t)strlen(want) && memcmp(b, want, n) == 0;
}

int main(void) {
  struct stat st;
  printf("before: %s\n", stat("/mnt/shared/late", &st) == 0 ? "present" : "absent");
  printf("doomed: %s\n", stat("/mnt/shared/doomed", &st) == 0 ? "present" : "absent");
  printf("grow: %ld, sub/f: %ld\n", size_of("/mnt/shared/grow"), size_of("/mnt/shared/sub/f"));
  fflush(stdout);
  // Tell the host to make its changes now.
  fclose(fopen("/mnt/shared/started", "w"));
  int seen = 0, gone = 0, grown = 0, replaced = 0;
  // Up to 30 s: the host's changes come from the test, which a loaded machine may run late.
  for (int i = 0; i < 3000 && !(seen && gone && grown && replaced); i++) {
    if (stat("/mnt/shared/late", &st) == 0) seen = 1;
    if (stat("/mnt/shared/doomed", &st) != 0) gone = 1;
    if (size_of("/mnt/shared/grow") == 3) grown = 1;
    if (size_of("/mnt/shared/sub/f") == 2 && holds("/mnt/shared/sub/f", "22")) replaced = 1;
    usleep(10000);
  }
  printf("late file seen: %s\n", seen ? "yes" : "no");
  printf("removed file gone: %s\n", gone ? "yes" : "no");
  printf("new size seen: %s\n", grown ? "yes" : "no");
  printf("replaced directory seen: %s\n", replaced ? "yes" : "no");
  return 0;
}
