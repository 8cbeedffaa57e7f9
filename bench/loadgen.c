// CoAP load generator for bench:server: keeps INFLIGHT Confirmable GETs in
// flight against HOST:PORT/PATH for SECONDS, matching each ACK to its request
// by Message ID and token, and prints one JSON line with requests/s and
// latency percentiles. With SOURCE_PORTS > 1 the requests rotate over that
// many sockets, so the server sees that many distinct peers.
//
// usage: loadgen HOST PORT PATH INFLIGHT SECONDS [SOURCE_PORTS]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOST_AFTER_US 1000000 // a request unanswered this long is counted lost and replaced
#define HISTOGRAM_US 1000000

typedef struct {
  uint16_t message_id;
  uint32_t token;
  uint64_t sent_us;
  int socket;
} Slot;

static struct sockaddr_storage target;
static socklen_t target_length;
static const char *path;
static Slot *slots;
static int *sockets;
static int socket_count, next_socket;
static uint16_t next_message_id;
static uint32_t *histogram;
static uint64_t completed, lost;

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void send_request(int index) {
  Slot *slot = &slots[index];
  uint8_t datagram[300];
  size_t length = 0;
  slot->message_id = next_message_id++;
  // The slot index in the top half makes responses easy to route; the bottom half changes per request.
  slot->token = ((uint32_t)index << 16) | ((slot->token + 1) & 0xffff);
  slot->socket = sockets[next_socket];
  next_socket = (next_socket + 1) % socket_count;
  datagram[length++] = 0x44; // version 1, CON, token length 4
  datagram[length++] = 0x01; // GET
  datagram[length++] = slot->message_id >> 8;
  datagram[length++] = slot->message_id & 0xff;
  memcpy(datagram + length, &slot->token, 4);
  length += 4;
  int previous = 0;
  for (const char *segment = path; *segment;) {
    const char *end = strchr(segment, '/');
    size_t size = end ? (size_t)(end - segment) : strlen(segment);
    if (size > 12 || 11 - previous > 12) { fprintf(stderr, "path segments up to 12 bytes\n"); exit(2); }
    datagram[length++] = (uint8_t)(((11 - previous) << 4) | size);
    memcpy(datagram + length, segment, size);
    length += size;
    previous = 11;
    segment = end ? end + 1 : segment + size;
  }
  slot->sent_us = now_us();
  sendto(slot->socket, datagram, length, 0, (struct sockaddr *)&target, target_length);
}

static double percentile(double p) {
  uint64_t wanted = (uint64_t)(completed * p), seen = 0;
  for (int us = 0; us < HISTOGRAM_US; us++) {
    seen += histogram[us];
    if (seen > wanted) return us;
  }
  return HISTOGRAM_US;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: loadgen HOST PORT PATH INFLIGHT SECONDS [SOURCE_PORTS]\n");
    return 2;
  }
  path = argv[3];
  int inflight = atoi(argv[4]);
  if (inflight < 1 || inflight > 65535) { fprintf(stderr, "INFLIGHT 1..65535\n"); return 2; }
  double seconds = atof(argv[5]);
  socket_count = argc > 6 ? atoi(argv[6]) : 1;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&target;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&target;
  int family = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
  if (family == AF_INET) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &v4->sin_addr);
    target_length = sizeof *v4;
  } else {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(atoi(argv[2]));
    inet_pton(AF_INET6, argv[1], &v6->sin6_addr);
    target_length = sizeof *v6;
  }
  struct rlimit files;
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  int poller = epoll_create1(0);
  sockets = calloc(socket_count, sizeof *sockets);
  for (int i = 0; i < socket_count; i++) {
    sockets[i] = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (sockets[i] < 0) { perror("socket"); return 1; }
    struct epoll_event event = {.events = EPOLLIN, .data.fd = sockets[i]};
    epoll_ctl(poller, EPOLL_CTL_ADD, sockets[i], &event);
  }
  slots = calloc(inflight, sizeof *slots);
  histogram = calloc(HISTOGRAM_US, sizeof *histogram);
  srand(getpid());
  next_message_id = rand();
  for (int i = 0; i < inflight; i++) send_request(i);

  uint64_t start = now_us(), end = start + (uint64_t)(seconds * 1e6), last_sweep = start;
  struct epoll_event events[256];
  uint8_t buffer[2048];
  while (now_us() < end) {
    int ready = epoll_wait(poller, events, 256, 10);
    for (int e = 0; e < ready; e++) {
      ssize_t size;
      while ((size = recv(events[e].data.fd, buffer, sizeof buffer, 0)) >= 4) {
        if ((buffer[0] & 0x0f) != 4 || size < 8 || (buffer[0] >> 4 & 3) != 2 || buffer[1] >> 5 != 2) continue;
        uint32_t token;
        memcpy(&token, buffer + 4, 4);
        int index = token >> 16;
        if (index >= inflight) continue;
        Slot *slot = &slots[index];
        uint16_t message_id = buffer[2] << 8 | buffer[3];
        if (slot->token != token || slot->message_id != message_id) continue;
        uint64_t latency = now_us() - slot->sent_us;
        histogram[latency < HISTOGRAM_US ? latency : HISTOGRAM_US - 1]++;
        completed++;
        send_request(index);
      }
    }
    uint64_t now = now_us();
    if (now - last_sweep > 100000) {
      last_sweep = now;
      for (int i = 0; i < inflight; i++) {
        if (now - slots[i].sent_us > LOST_AFTER_US) {
          lost++;
          send_request(i);
        }
      }
    }
  }
  double elapsed = (now_us() - start) / 1e6;
  printf("{\"requests\":%llu,\"rps\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"lost\":%llu}\n",
         (unsigned long long)completed, completed / elapsed, percentile(0.5), percentile(0.99),
         (unsigned long long)lost);
  return 0;
}
