// Connects a Unix stream socket to the abstract name argv[1] (the bytes after the leading NUL,
// the whole of sun_path padded with NULs, as the test's listener bound it) and says whether it
// connected. Natively it reaches the listener; in a sandbox it must reach only the Sentry's own
// Unix namespace, where no socket has that name, with --network=host too.
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe.h"

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return 2;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  memcpy(a.sun_path + 1, argv[1], strlen(argv[1]));
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  show("socket", fd < 0 ? -1 : 0);
  show("connect abstract", connect(fd, (struct sockaddr *)&a, sizeof a));
  return 0;
}
