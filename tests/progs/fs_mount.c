// mount(2) and umount2(2) inside the container: tmpfs with options, bind mounts, remount
// read-only, busy and invalid unmounts; sendmmsg/recvmmsg; fadvise.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fsmount.XXXXXX";
  mkdtemp(dir);
  chdir(dir);
  mkdir("m", 0755);
  mkdir("src", 0755);
  mkdir("b", 0755);
  close(open("src/file", O_CREAT | O_WRONLY, 0644));
  show("mount tmpfs", mount("tmpfs", "m", "tmpfs", 0, "mode=700,size=1m"));
  struct stat st;
  stat("m", &st);
  printf("mode of the new root: %o\n", st.st_mode & 07777);
  show("create on it", close(open("m/x", O_CREAT | O_WRONLY, 0644)));
  mkdir("m/inner", 0755);
  show("mount on top", mount("tmpfs", "m/inner", "tmpfs", 0, ""));
  show("umount busy", umount2("m", 0));
  show("umount inner", umount2("m/inner", 0));
  show("umount not a mount", umount2("src", 0));
  show("umount", umount2("m", 0));
  show("file gone with the tmpfs", stat("m/x", &st));
  show("bind mount", mount("src", "b", NULL, MS_BIND, NULL));
  show("file through the bind", stat("b/file", &st));
  show("remount bind read-only", mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
  show("create on read-only bind", open("b/new", O_CREAT | O_WRONLY, 0644));
  show("create in the source", close(open("src/new", O_CREAT | O_WRONLY, 0644)));
  show("seen through the bind", stat("b/new", &st));
  show("make private", mount(NULL, "b", NULL, MS_PRIVATE, NULL));
  show("umount bind", umount2("b", MNT_DETACH));
  show("unknown type", mount("x", "m", "nosuchfs", 0, NULL));

  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  struct iovec iov[3] = {{"one", 3}, {"two!", 4}, {"three", 5}};
  struct mmsghdr out[3] = {0};
  for (int i = 0; i < 3; i++) {
    out[i].msg_hdr.msg_iov = &iov[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  show("sendmmsg", sendmmsg(sv[0], out, 3, 0));
  printf("lens %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
  char bufs[3][16];
  struct iovec in_iov[3];
  struct mmsghdr in[3] = {0};
  for (int i = 0; i < 3; i++) {
    in_iov[i] = (struct iovec){bufs[i], 16};
    in[i].msg_hdr.msg_iov = &in_iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  show("recvmmsg", recvmmsg(sv[1], in, 3, MSG_DONTWAIT, NULL));
  printf("got %.*s %.*s %.*s\n", in[0].msg_len, bufs[0], in[1].msg_len, bufs[1], in[2].msg_len, bufs[2]);
  int fd = open("src/file", O_RDONLY);
  show("fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
  show("fadvise bad advice", posix_fadvise(fd, 0, 0, 99) ? -1 : 0);
  return 0;
}
