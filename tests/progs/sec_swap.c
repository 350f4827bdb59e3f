// Escape probe: a symlink swapped while other threads walk through it. One thread flips
// <dir>/x between a symlink to a directory inside ("real"), a symlink to "/", a symlink to
// "../../../../../..", and a real directory; two threads open paths through x thousands of
// times. A walk may see any of those states, but never a file outside the root.
// argv: <dir> <walks> <host path> <file beside the rootfs> [walk-only|flip-only]: walk-only
// runs no flipper and lays out nothing (another process does both, e.g. the host in a shared
// bind mount); flip-only lays out and flips until killed. Inside real/ the test's own
// decoys stand where the host path and the beside file would be, so that "x -> real" opens
// something ("decoy"); anything starting with SECRET is a leak.
#include "sec_common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int stop;
static const char *host, *beside;
static long walks;
static atomic_long leaked, opened, failed;

static void mkdirs_for(const char *file) {
  char p[4096];
  snprintf(p, sizeof p, "%s", file);
  for (char *s = p + 1; *s; s++) {
    if (*s == '/') {
      *s = 0;
      mkdir(p, 0755);
      *s = '/';
    }
  }
  int fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  write(fd, "decoy\n", 6);
  close(fd);
}

static void *flipper(void *arg) {
  (void)arg;
  const char *targets[] = {"real", "/", "../../../../../.."};
  long i = 0;
  while (!atomic_load(&stop)) {
    int k = i++ % 4;
    if (k < 3) {
      unlink("x.tmp");
      symlink(targets[k], "x.tmp");
      if (rename("x.tmp", "x") < 0 && errno == EISDIR) {
        rename("x", "dirstate");  // x was the real directory: put it back
        rename("x.tmp", "x");
      }
    } else {
      unlink("x");
      rename("dirstate", "x");
    }
  }
  return NULL;
}

static void check(int fd) {
  if (fd < 0) {
    atomic_fetch_add(&failed, 1);
    return;
  }
  char buf[16] = {0};
  read(fd, buf, sizeof buf - 1);
  if (strncmp(buf, "SECRET", 6) == 0) atomic_fetch_add(&leaked, 1);
  else atomic_fetch_add(&opened, 1);
  close(fd);
}

static void *walker(void *arg) {
  long id = (long)arg;
  char a[4096], b[4096], c[4096];
  snprintf(a, sizeof a, "x%s", host);
  snprintf(b, sizeof b, "x/../../../../../..%s", host);
  snprintf(c, sizeof c, "x/../%s", beside);
  int here = open(".", O_RDONLY | O_DIRECTORY);
  for (long i = 0; i < walks; i++) {
    switch ((i + id) % 4) {
      case 0: check(open(a, O_RDONLY)); break;
      case 1: check(open(b, O_RDONLY)); break;
      case 2: check(openat(here, c, O_RDONLY)); break;
      case 3: {
        // Through a held directory of x: '..' from there must stay inside too.
        int x = open("x", O_RDONLY | O_DIRECTORY);
        if (x < 0) {
          atomic_fetch_add(&failed, 1);
          break;
        }
        char d[4096];
        snprintf(d, sizeof d, "../../../../../../..%s", host);
        check(openat(x, d, O_RDONLY));
        snprintf(d, sizeof d, "../../../../../../../%s", beside);
        check(openat(x, d, O_RDONLY));
        close(x);
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 5) return 2;
  if (chdir(argv[1]) < 0) {
    printf("chdir %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  walks = atol(argv[2]);
  host = argv[3];
  beside = argv[4];
  const char *mode = argc > 5 ? argv[5] : "";
  int walk_only = strcmp(mode, "walk-only") == 0, flip_only = strcmp(mode, "flip-only") == 0;
  pthread_t f, w[2];
  if (walk_only) goto walk;
  mkdir("real", 0755);
  mkdir("dirstate", 0755);
  char p[4096];
  snprintf(p, sizeof p, "real%s", host);
  mkdirs_for(p);
  snprintf(p, sizeof p, "dirstate%s", host);
  mkdirs_for(p);
  snprintf(p, sizeof p, "%s", beside);
  mkdirs_for(p);
  symlink("real", "x");
  if (flip_only) {
    printf("flipping\n");
    flipper(NULL);
    return 0;
  }
  pthread_create(&f, NULL, flipper, NULL);
walk:
  for (long i = 0; i < 2; i++) pthread_create(&w[i], NULL, walker, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
  atomic_store(&stop, 1);
  if (!walk_only) pthread_join(f, NULL);
  printf("walks: %ld\n", 2 * walks);
  printf("leaks: %ld\n", atomic_load(&leaked));
  // How many opened a decoy and how many failed depends on the scheduling: on stderr only.
  fprintf(stderr, "opened %ld, failed %ld\n", atomic_load(&opened), atomic_load(&failed));
  return atomic_load(&leaked) ? 1 : 0;
}
