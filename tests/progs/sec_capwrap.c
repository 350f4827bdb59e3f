// The native half of the capability probe: does what runc does before it executes a
// container's process as root, so that the probe runs natively with the sets a spec gives.
// Usage: sec_capwrap <bounding set, hex> <no_new_privs 0|1> <program> [args...]
// Bounding capabilities outside the set are dropped; the execve that follows makes root's
// permitted and effective sets the bounding set (capabilities(7)), as the spec's are.
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: sec_capwrap <bounding hex> <nnp> <program> [args...]\n");
    return 2;
  }
  unsigned long long keep = strtoull(argv[1], NULL, 16);
  int last = 40;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  if (f) {
    if (fscanf(f, "%d", &last) != 1) last = 40;
    fclose(f);
  }
  for (int cap = 0; cap <= last; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      perror("PR_CAPBSET_DROP");
      return 2;
    }
  }
  if (atoi(argv[2]) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("PR_SET_NO_NEW_PRIVS");
    return 2;
  }
  execv(argv[3], argv + 3);
  perror("execv");
  return 2;
}
