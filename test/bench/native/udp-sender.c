/*
 * The bench's UDP sender: sends datagrams at a steady rate with sendmmsg, so
 * that sending costs the shared cores little and the receiver (the gateway
 * or Veneur) is what is measured. A sender in Node tops out near 100k
 * datagrams/s on one of the bench machine's two cores.
 *
 *   udp-sender <host> <port> <rate per second> <seconds> <datagram file> [most]
 *
 * Stops after <seconds> or after <most> datagrams, whichever comes first (a
 * very high rate and <most> send a fixed number as fast as the socket goes).
 * The file holds datagrams as [u32 little-endian length][bytes], sent round
 * robin. Prints the number sent, then exits. Built by test/bench/udp-sender.ts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BURST 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: udp-sender <host> <port> <rate> <seconds> <file> [most]\n");
    return 2;
  }
  double rate = atof(argv[3]), seconds = atof(argv[4]);
  unsigned long most = argc == 7 ? strtoul(argv[6], NULL, 10) : (unsigned long)-1;
  FILE *f = fopen(argv[5], "rb");
  if (!f) { perror("open"); return 1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(size);
  if (fread(data, 1, size, f) != (size_t)size) { perror("read"); return 1; }
  fclose(f);
  struct iovec *iov = NULL;
  size_t count = 0, cap = 0;
  for (long at = 0; at + 4 <= size;) {
    uint32_t len = data[at] | data[at + 1] << 8 | data[at + 2] << 16 | (uint32_t)data[at + 3] << 24;
    at += 4;
    if (at + len > (unsigned long)size) break;
    if (count == cap) { cap = cap ? cap * 2 : 256; iov = realloc(iov, cap * sizeof *iov); }
    iov[count].iov_base = data + at;
    iov[count].iov_len = len;
    count++;
    at += len;
  }
  if (count == 0) { fprintf(stderr, "no datagrams in %s\n", argv[5]); return 1; }

  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", argv[1]); return 2; }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  struct mmsghdr msgs[BURST];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BURST; i++) {
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  double start = now_s();
  unsigned long sent = 0, next = 0;
  for (;;) {
    double elapsed = now_s() - start;
    if (elapsed >= seconds) break;
    if (sent >= most) break;
    unsigned long due = (unsigned long)(elapsed * rate);
    if (due > most) due = most;
    while (sent < due) {
      int n = due - sent < BURST ? (int)(due - sent) : BURST;
      for (int i = 0; i < n; i++) {
        msgs[i].msg_hdr.msg_iov = &iov[next];
        next = (next + 1) % count;
      }
      int done = sendmmsg(fd, msgs, n, 0);
      if (done < 0) { perror("sendmmsg"); return 1; }
      sent += done;
      next = (next + count - (n - done)) % count;
    }
    struct timespec pause = {0, 200000}; /* 0.2 ms */
    nanosleep(&pause, NULL);
  }
  printf("%lu\n", sent);
  return 0;
}
