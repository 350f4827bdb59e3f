// Shared by the escape probes (tests/security/): opening a path and saying what came back,
// without ever printing host paths (they differ from run to run) or a host secret (the test
// plants files whose content starts with "SECRET" outside the root; reading one is an escape).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int leaks;

// Reads what fd holds and prints it under `what`; a secret is reported as a LEAK.
static void show_content(const char *what, int fd) {
  char buf[64] = {0};
  long n = read(fd, buf, sizeof buf - 1);
  if (n < 0) {
    printf("%s: opened, read %s\n", what, strerror(errno));
  } else if (strncmp(buf, "SECRET", 6) == 0) {
    leaks++;
    printf("%s: LEAK\n", what);
  } else {
    buf[strcspn(buf, "\n")] = 0;
    printf("%s: opened, reads \"%s\"\n", what, buf);
  }
}

static void try_open(const char *what, int dirfd, const char *path) {
  int fd = openat(dirfd, path, O_RDONLY);
  if (fd < 0) {
    printf("%s: %s\n", what, strerror(errno));
    return;
  }
  show_content(what, fd);
  close(fd);
}

// Whether `path` names the root directory (same device and inode as "/").
static void same_as_root(const char *what, const char *path) {
  struct stat a, b;
  if (stat("/", &a) < 0 || stat(path, &b) < 0) {
    printf("%s: %s\n", what, strerror(errno));
    return;
  }
  printf("%s: %s\n", what, a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "the root" : "NOT the root");
}

static void show_link(const char *what, const char *path) {
  char buf[256];
  long n = readlink(path, buf, sizeof buf - 1);
  if (n < 0) {
    printf("%s: %s\n", what, strerror(errno));
    return;
  }
  buf[n] = 0;
  printf("%s: %s\n", what, buf);
}

// "<a><b>" in a static buffer of its own per call site.
#define CAT(a, b) (snprintf(cat_buf, sizeof cat_buf, "%s%s", (a), (b)), cat_buf)
static char cat_buf[4096];
