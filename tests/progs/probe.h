// Shared by the probes: one line per result, so that the sandbox's output and the native
// run's can be compared as text.
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}
