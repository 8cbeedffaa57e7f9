// Observers for bench:observe: registers N observers of HOST:PORT/PATH, each on
// its own UDP port, ACKs every CON notification, and measures how long one
// notification takes to reach all of them (first arrival to last, for one
// sequence number). Prints one JSON line.
//
// usage: observers HOST PORT PATH N
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_LIMIT_US 20000000

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/** The Observe option's value, or -1; walks the options after a 4-byte token. */
static long observe_value(const uint8_t *m, ssize_t size) {
  ssize_t at = 4 + (m[0] & 15);
  int number = 0;
  while (at < size && m[at] != 0xff) {
    int delta = m[at] >> 4, length = m[at] & 15;
    at++;
    if (delta == 13) delta = 13 + m[at++];
    else if (delta == 14) { delta = 269 + (m[at] << 8 | m[at + 1]); at += 2; }
    if (length == 13) length = 13 + m[at++];
    else if (length == 14) { length = 269 + (m[at] << 8 | m[at + 1]); at += 2; }
    number += delta;
    if (number == 6) {
      long value = 0;
      for (int i = 0; i < length; i++) value = value << 8 | m[at + i];
      return value;
    }
    at += length;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: observers HOST PORT PATH N\n"); return 2; }
  int n = atoi(argv[4]);
  const char *path = argv[3];
  size_t path_length = strlen(path);
  if (path_length > 12) { fprintf(stderr, "PATH up to 12 bytes\n"); return 2; }
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &target.sin_addr);
  struct rlimit files;
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  int poller = epoll_create1(0);
  int *sockets = calloc(n, sizeof *sockets);
  long *last_sequence = calloc(n, sizeof *last_sequence);
  char *reached_flag = calloc(n, 1);
  for (int i = 0; i < n; i++) {
    sockets[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (sockets[i] < 0) { perror("socket"); return 1; }
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(poller, EPOLL_CTL_ADD, sockets[i], &event);
    last_sequence[i] = -1;
  }
  // CON GET, token = observer index, Observe = 0 (empty), Uri-Path
  uint8_t request[32] = {0x44, 0x01};
  request[8] = 0x60;
  request[9] = (uint8_t)(0x50 | path_length);
  memcpy(request + 10, path, path_length);
  uint16_t message_id = 0;
  int registered = 0, reached = 0;
  int measuring = 0;
  uint64_t first = 0, last = 0, deadline = now_us() + WAIT_LIMIT_US;
  struct epoll_event events[4096];
  uint8_t buffer[1500];
  uint64_t next_registration_round = 0, last_new_registration = now_us(), last_arrival = now_us();
  int registration_rounds = 0;
  while (now_us() < deadline && (!measuring || reached < registered)) {
    // (Re)send registrations to observers not yet answered: a burst can overflow the server's socket buffer.
    // A few rounds only: a server that refuses more observers must not keep the registration phase open.
    if (registered < n && registration_rounds < 5 && !measuring && now_us() >= next_registration_round) {
      registration_rounds++;
      for (int i = 0, sent = 0; i < n; i++) {
        if (last_sequence[i] >= 0) continue;
        message_id++;
        request[2] = message_id >> 8;
        request[3] = message_id & 0xff;
        memcpy(request + 4, &i, 4);
        sendto(sockets[i], request, 10 + path_length, 0, (struct sockaddr *)&target, sizeof target);
        if (++sent % 100 == 0) usleep(5000);
      }
      next_registration_round = now_us() + 1000000;
    }
    int ready = epoll_wait(poller, events, 4096, 100);
    for (int e = 0; e < ready; e++) {
      int i = events[e].data.u32;
      // One datagram per ready event: epoll is level-triggered, so a socket with more waiting is reported
      // again, and the EAGAIN read that draining would end with (a syscall per observer) is saved.
      ssize_t size = recv(sockets[i], buffer, sizeof buffer, MSG_DONTWAIT);
      if (size >= 4) {
        if ((buffer[0] >> 4 & 3) == 0) { // CON notification: ACK it
          uint8_t ack[4] = {0x60, 0x00, buffer[2], buffer[3]};
          // sendto: the sockets are not connected, so a plain send() fails with EDESTADDRREQ.
          sendto(sockets[i], ack, 4, 0, (struct sockaddr *)&target, sizeof target);
        }
        long sequence = observe_value(buffer, size);
        if (sequence < 0) continue; // the next ready event
        uint64_t previous_arrival = last_arrival;
        last_arrival = now_us();
        if (last_sequence[i] < 0) {
          registered++;
          last_new_registration = now_us();
        } else if (sequence != last_sequence[i]) {
          // Measure from the first new state after registration is over (everyone is in, or no new
          // one for 2 s): until every registered observer has had a notification. Servers number
          // notifications per resource or per observation, so any new number counts.
          int settled = registered == n || now_us() - last_new_registration > 2000000;
          // Armed only after a quiet spell, so the measured round is one that starts after settling.
          if (!measuring && settled && last_arrival - previous_arrival > 300000) { measuring = 1; first = now_us(); }
          if (measuring && !reached_flag[i]) { reached_flag[i] = 1; reached++; last = now_us(); }
        }
        last_sequence[i] = sequence;
      }
    }
  }
  printf("{\"observers\":%d,\"registered\":%d,\"reached\":%d,\"fanout_ms\":%.2f}\n", n, registered, reached,
         (last - first) / 1000.0);
  return 0;
}
