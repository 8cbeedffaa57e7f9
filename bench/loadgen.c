// CoAP load generator for bench:server: keeps INFLIGHT Confirmable GETs in
// flight against HOST:PORT/PATH, matching each piggybacked response to its
// request by Message ID and token, and prints one JSON line with requests/s
// (2.05 Content only) and latency percentiles.
//
// Datagrams move in batches (recvmmsg/sendmmsg, up to INFLIGHT at a time) so
// that the generator costs a few syscalls per wake-up, not two per request,
// and stays well above the servers it measures: with one source port a wake-up
// is one blocking recvmmsg (MSG_WAITFORONE) and one sendmmsg, and the requests
// of a batch leave as UDP GSO messages, which the kernel splits back into one
// ordinary datagram per request before any server's socket sees them. The first WARMUP seconds are
// not counted: they cover the server's JIT warm-up and its first peer-table
// entries. With -p SOURCE_PORTS > 1 the requests rotate over that many
// sockets (each its own source port), so the server sees that many peers.
//
// A request unanswered for LOST_AFTER_US is counted lost and its slot gets a
// fresh request (new MID and token), so one lost datagram costs that slot a
// second, as a real client's timeout would, and a late answer to it counts
// as stray, never as completed.
//
// usage: loadgen [-p SOURCE_PORTS] [-w WARMUP_SECONDS] HOST PORT PATH INFLIGHT SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOST_AFTER_US 1000000
#define SWEEP_EVERY_US 100000
#define HISTOGRAM_US 1000000
#define MAX_BATCH 1024 // UIO_MAXIOV: the most one sendmmsg/recvmmsg takes
#define OPTIONS_MAX 256
#define RESPONSE_MAX 1500
// Datagrams per GSO message: UDP_MAX_SEGMENTS was 64 before Linux 6.9 (128 since).
#define GSO_SEGMENTS 64

typedef struct {
  uint16_t message_id;
  uint32_t token;
  uint64_t sent_us;
  int socket;
} Slot;

static Slot *slots;
static int inflight;
static int *sockets;
static int socket_count, next_socket;
static uint16_t next_message_id;
// The Uri-Path options are the same in every request: encoded once.
static uint8_t options[OPTIONS_MAX];
static size_t options_length;
// Requests waiting for the next flush, as slot indices, and their datagrams.
static int *pending;
static int pending_count;
static uint8_t (*datagrams)[8 + OPTIONS_MAX];
static uint32_t *histogram;
static uint64_t completed, lost, errors, stray;
// Every request handed to the kernel, warm-up included: tells whether every source port was used.
static uint64_t sent_total;

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void encode_path(const char *path) {
  int previous = 0;
  for (const char *segment = path; *segment;) {
    const char *end = strchr(segment, '/');
    size_t size = end ? (size_t)(end - segment) : strlen(segment);
    // One-byte option header only: delta 11 (Uri-Path) and a length up to 12.
    if (size > 12 || options_length + 1 + size > OPTIONS_MAX) {
      fprintf(stderr, "path segments up to 12 bytes, %d bytes in all\n", OPTIONS_MAX);
      exit(2);
    }
    options[options_length++] = (uint8_t)(((11 - previous) << 4) | size);
    memcpy(options + options_length, segment, size);
    options_length += size;
    previous = 11;
    segment = end ? end + 1 : segment + size;
  }
}

// Gives slot `index` a fresh request and queues it for the next flush.
static void queue_request(int index, uint64_t now) {
  Slot *slot = &slots[index];
  uint8_t *datagram = datagrams[index];
  slot->message_id = next_message_id++;
  // The slot index in the top half routes the response; the bottom half changes per request.
  slot->token = ((uint32_t)index << 16) | ((slot->token + 1) & 0xffff);
  slot->socket = sockets[next_socket];
  next_socket = (next_socket + 1) % socket_count;
  slot->sent_us = now;
  datagram[0] = 0x44; // version 1, CON, token length 4
  datagram[1] = 0x01; // GET
  datagram[2] = slot->message_id >> 8;
  datagram[3] = slot->message_id & 0xff;
  memcpy(datagram + 4, &slot->token, 4);
  pending[pending_count++] = index;
}

static int by_socket(const void *a, const void *b) {
  return slots[*(const int *)a].socket - slots[*(const int *)b].socket;
}

// Sends the queued requests: per socket, up to GSO_SEGMENTS requests go as one UDP GSO message (all
// requests have the same length, and UDP_SEGMENT is set on every socket), in one sendmmsg per flush.
// On loopback the kernel splits a GSO message back into ordinary datagrams before it queues them on the
// server's socket (a server would need UDP_GRO to see anything else, and none sets it), so every server
// still reads one request per datagram, byte for byte the same; what GSO saves is the generator's
// per-datagram send path (skb build, route, loopback transmit, IP receive, socket lookup), which on this
// VM costs about as much as everything else in a round trip together.
static void flush(void) {
  static struct mmsghdr messages[MAX_BATCH];
  static struct iovec vectors[MAX_BATCH];
  if (socket_count > 1) qsort(pending, pending_count, sizeof *pending, by_socket);
  for (int first = 0; first < pending_count;) {
    int socket = slots[pending[first]].socket, count = 0, message_count = 0;
    while (first + count < pending_count && count < MAX_BATCH && slots[pending[first + count]].socket == socket) {
      vectors[count] = (struct iovec){.iov_base = datagrams[pending[first + count]], .iov_len = 8 + options_length};
      if (count % GSO_SEGMENTS == 0) {
        messages[message_count++] = (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[count], .msg_iovlen = 0}};
      }
      messages[message_count - 1].msg_hdr.msg_iovlen++;
      count++;
    }
    // The sockets block on send, so a short count means an error; what is unsent is swept as lost.
    for (int sent = 0; sent < message_count;) {
      int result = sendmmsg(socket, messages + sent, message_count - sent, 0);
      if (result <= 0) break;
      sent += result;
    }
    sent_total += count;
    first += count;
  }
  pending_count = 0;
}

static void receive(const uint8_t *data, ssize_t size, uint64_t now) {
  // Version 1, ACK, token length 4: a piggybacked response to one of ours.
  if (size < 8 || data[0] != 0x64) { stray++; return; }
  uint32_t token;
  memcpy(&token, data + 4, 4);
  int index = token >> 16;
  uint16_t message_id = data[2] << 8 | data[3];
  if (index >= inflight || slots[index].token != token || slots[index].message_id != message_id) {
    stray++;
    return;
  }
  if (data[1] == 0x45) { // 2.05 Content
    uint64_t latency = now - slots[index].sent_us;
    histogram[latency < HISTOGRAM_US ? latency : HISTOGRAM_US - 1]++;
    completed++;
  } else {
    errors++;
  }
  queue_request(index, now);
}

static double percentile(double p) {
  uint64_t wanted = (uint64_t)(completed * p), seen = 0;
  for (int us = 0; us < HISTOGRAM_US; us++) {
    seen += histogram[us];
    if (seen > wanted) return us;
  }
  return HISTOGRAM_US;
}

static int usage(void) {
  fprintf(stderr, "usage: loadgen [-p SOURCE_PORTS] [-w WARMUP_SECONDS] HOST PORT PATH INFLIGHT SECONDS\n");
  return 2;
}

int main(int argc, char **argv) {
  double warmup = 0.5;
  socket_count = 1;
  for (int option; (option = getopt(argc, argv, "p:w:")) != -1;) {
    if (option == 'p') socket_count = atoi(optarg);
    else if (option == 'w') warmup = atof(optarg);
    else return usage();
  }
  if (argc - optind != 5) return usage();
  const char *host = argv[optind], *port = argv[optind + 1];
  encode_path(argv[optind + 2]);
  inflight = atoi(argv[optind + 3]);
  double seconds = atof(argv[optind + 4]);
  if (inflight < 1 || inflight > 65535) { fprintf(stderr, "INFLIGHT 1..65535\n"); return 2; }
  if (socket_count < 1) { fprintf(stderr, "SOURCE_PORTS >= 1\n"); return 2; }

  struct sockaddr_storage target = {0};
  socklen_t target_length;
  int family = strchr(host, ':') ? AF_INET6 : AF_INET;
  if (family == AF_INET) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&target;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(atoi(port));
    if (inet_pton(AF_INET, host, &v4->sin_addr) != 1) return usage();
    target_length = sizeof *v4;
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&target;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(atoi(port));
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1) return usage();
    target_length = sizeof *v6;
  }
  struct rlimit files;
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  int poller = epoll_create1(0);
  sockets = calloc(socket_count, sizeof *sockets);
  for (int i = 0; i < socket_count; i++) {
    // Connected: each socket gets its own source port, and the kernel keeps its route.
    sockets[i] = socket(family, SOCK_DGRAM, 0);
    if (sockets[i] < 0 || connect(sockets[i], (struct sockaddr *)&target, target_length) < 0) {
      perror("socket");
      return 1;
    }
    // Every request is 8 + options_length bytes: one GSO message carries up to GSO_SEGMENTS of them.
    int segment = 8 + (int)options_length;
    if (setsockopt(sockets[i], SOL_UDP, UDP_SEGMENT, &segment, sizeof segment) < 0) {
      perror("UDP_SEGMENT");
      return 1;
    }
    // The longest a blocking receive waits: the loop still sweeps and ends on time when nothing answers.
    struct timeval wait_at_most = {.tv_usec = 10000};
    setsockopt(sockets[i], SOL_SOCKET, SO_RCVTIMEO, &wait_at_most, sizeof wait_at_most);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = sockets[i]};
    epoll_ctl(poller, EPOLL_CTL_ADD, sockets[i], &event);
  }
  slots = calloc(inflight, sizeof *slots);
  pending = calloc(inflight, sizeof *pending);
  datagrams = calloc(inflight, sizeof *datagrams);
  histogram = calloc(HISTOGRAM_US, sizeof *histogram);
  if (!slots || !pending || !datagrams || !histogram) { perror("calloc"); return 1; }
  for (int i = 0; i < inflight; i++) memcpy(datagrams[i] + 8, options, options_length);
  srand(getpid());
  next_message_id = rand();

  int batch = inflight < MAX_BATCH ? inflight : MAX_BATCH;
  static uint8_t buffers[MAX_BATCH][RESPONSE_MAX];
  static struct iovec vectors[MAX_BATCH];
  static struct mmsghdr messages[MAX_BATCH];
  // Only msg_len and msg_flags change per receive: the headers are built once.
  for (int i = 0; i < batch; i++) {
    vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = RESPONSE_MAX};
    messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[i], .msg_iovlen = 1}};
  }
  struct epoll_event events[256];
  uint64_t start = now_us(), measured_from = start + (uint64_t)(warmup * 1e6);
  uint64_t end = measured_from + (uint64_t)(seconds * 1e6), last_sweep = start;
  int warming = warmup > 0;
  for (int i = 0; i < inflight; i++) queue_request(i, start);
  flush();
  for (uint64_t now = start; now < end; now = now_us()) {
    if (warming && now >= measured_from) {
      warming = 0;
      completed = lost = errors = stray = 0;
      memset(histogram, 0, HISTOGRAM_US * sizeof *histogram);
    }
    // One socket: a blocking recvmmsg (MSG_WAITFORONE, bounded by SO_RCVTIMEO) is the wait itself, so a
    // wake-up costs two syscalls, not three. Several sockets: epoll tells which to read.
    int ready = socket_count == 1 ? 1 : epoll_wait(poller, events, 256, 10);
    for (int e = 0; e < ready; e++) {
      int fd = socket_count == 1 ? sockets[0] : events[e].data.fd;
      int received = recvmmsg(fd, messages, batch, socket_count == 1 ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
      now = now_us();
      for (int i = 0; i < received; i++) {
        receive(buffers[i], messages[i].msg_len, now);
        messages[i].msg_hdr.msg_flags = 0;
      }
    }
    now = now_us();
    if (now - last_sweep > SWEEP_EVERY_US) {
      last_sweep = now;
      for (int i = 0; i < inflight; i++) {
        if (now - slots[i].sent_us > LOST_AFTER_US) {
          lost++;
          queue_request(i, now);
        }
      }
    }
    flush();
  }
  double elapsed = (now_us() - (warming ? start : measured_from)) / 1e6;
  printf("{\"requests\":%llu,\"rps\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"lost\":%llu,\"errors\":%llu,"
         "\"stray\":%llu,\"sent\":%llu,\"source_ports\":%d}\n",
         (unsigned long long)completed, completed / elapsed, percentile(0.5), percentile(0.99),
         (unsigned long long)lost, (unsigned long long)errors, (unsigned long long)stray,
         (unsigned long long)sent_total, socket_count);
  return 0;
}
