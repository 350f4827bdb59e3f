// The pids limit counts a child until it is reaped (Linux's pids cgroup releases a task only
// when its parent waits for it): children that exit unreaped still take their place. Run under
// a pids limit of 16 (the spec's linux.resources.pids.limit; natively a pids cgroup).
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOST 200

static pid_t kids[MOST];

// Forks children that exit at once, unreaped, until fork fails; returns how many it made.
static int fill(int from, const char *what) {
  int n = from;
  for (; n < MOST; n++) {
    pid_t c = fork();
    if (c == 0) _exit(0);
    if (c < 0) {
      printf("%s: fork %d: %s\n", what, n - from + 1, strerror(errno));
      return n;
    }
    kids[n] = c;
  }
  printf("%s: %d forks and no error\n", what, n - from);
  return n;
}

// The process's first thread exits and the second one forks: the first still holds its pid
// (as a zombie thread) until the whole process is reaped, so it still counts.
static void *second(void *arg) {
  (void)arg;
  usleep(100 * 1000);
  int n = fill(0, "after the first thread exited");
  int st;
  for (int i = 0; i < n; i++) waitpid(kids[i], &st, 0);
  exit(0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    pthread_t t;
    pthread_create(&t, NULL, second, NULL);
    pthread_exit(NULL);
  }
  int n = fill(0, "unreaped");
  // Every child has exited (or will): they are zombies, and still counted.
  usleep(100 * 1000);
  n = fill(n, "zombies");
  // Reaping one gives its place back.
  int st;
  if (n > 0) printf("reaped one: %s\n", waitpid(kids[--n], &st, 0) > 0 ? "yes" : "no");
  n = fill(n, "after one reaped");
  int reaped = 0;
  while (wait(&st) > 0) reaped++;
  printf("reaped the rest: %s\n", reaped == n ? "all" : "not all");
  n = fill(0, "after all reaped");
  while (wait(&st) > 0) {
  }
  return 0;
}
