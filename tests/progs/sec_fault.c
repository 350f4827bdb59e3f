// Fault probe (tests/security/faults_test.ts): what the application sees when the host fails
// under it. Modes:
//   walk  : looks up a new missing name on the root again and again (each one a round trip to
//           the Gofer); prints "ready" once, and the first error that is not ENOENT.
//   sleep : starts two threads and a child process, prints "ready", and sleeps.
//   forks : forks children that exit at once and reaps them (on ptrace each is a new stub);
//           prints "ready" after the first 20, and the error of the first fork that fails.
//   fill <MiB> : writes a file of that size on the root (ENOSPC expected), removes it, then
//           writes and reads back 1 MiB, and appends to a pipe-free log of what happened.
#include "sec_common.h"
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

static void *sleeper(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static long write_file(const char *path, long bytes) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return -errno;
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  long done = 0;
  while (done < bytes) {
    long n = write(fd, buf, sizeof buf);
    if (n < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    done += n;
  }
  if (fsync(fd) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  close(fd);
  return done;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) return 2;
  if (strcmp(argv[1], "walk") == 0) {
    char name[64];
    for (long i = 0;; i++) {
      struct stat st;
      snprintf(name, sizeof name, "/missing-%ld", i);
      if (stat(name, &st) == 0 || errno != ENOENT) {
        printf("error: %s\n", strerror(errno));
        return 3;
      }
      if (i == 100) printf("ready\n");
      if (i > 100) usleep(1000);
    }
  }
  if (strcmp(argv[1], "sleep") == 0) {
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    pthread_create(&t, NULL, sleeper, NULL);
    if (fork() == 0) {
      for (;;) pause();
    }
    printf("ready\n");
    for (;;) pause();
  }
  if (strcmp(argv[1], "forks") == 0) {
    for (long i = 0;; i++) {
      pid_t c = fork();
      if (c == 0) _exit(0);
      if (c < 0) {
        printf("fork: %s\n", strerror(errno));
        return 0;
      }
      waitpid(c, NULL, 0);
      if (i == 20) printf("ready\n");
    }
  }
  if (strcmp(argv[1], "fill") == 0 && argc > 2) {
    long big = atol(argv[2]) << 20;
    long r = write_file("/big", big);
    printf("write %s MiB: %s\n", argv[2], r < 0 ? strerror(-r) : "fits");
    printf("unlink: %s\n", unlink("/big") < 0 ? strerror(errno) : "ok");
    r = write_file("/small", 1 << 20);
    printf("write 1 MiB after: %s\n", r < 0 ? strerror(-r) : "ok");
    int fd = open("/small", O_RDONLY);
    char buf[4096];
    long total = 0, n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    printf("read back: %ld bytes, last byte %c\n", total, total ? buf[n < 0 ? 0 : 4095] : '-');
    return 0;
  }
  return 2;
}
