// The generator's ceiling for bench:server: a C UDP server that turns each
// CON request into an empty-payload ACK 2.05 in place and sends it back. It
// moves datagrams in batches (recvmmsg/sendmmsg) as the generator does, so
// the row measures the generator and the loopback, not this echo's syscalls.
// Consecutive replies to the same peer with the same length leave as one UDP
// GSO message: the kernel splits it into ordinary datagrams before it queues
// them on the generator's socket (which does not set UDP_GRO), so the
// generator reads one response per datagram, exactly as from any server, and
// only this echo's own send path gets cheaper. While requests keep coming it
// polls the socket for up to SPIN_US before it blocks again: a wake-up from a
// blocking receive costs this VM tens of µs, which at 32 requests in flight
// would make the row measure scheduler latency rather than the generator. It
// spins only in its own row: with no traffic it blocks, taking no CPU from
// the servers measured in the other rows.
// usage: udp_echo PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 1024 // UIO_MAXIOV
// Datagrams per GSO message: UDP_MAX_SEGMENTS was 64 before Linux 6.9 (128 since).
#define GSO_SEGMENTS 64
// How long after the last datagram the socket is polled instead of waited on.
#define SPIN_US 200

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int server = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (bind(server, (struct sockaddr *)&address, sizeof address) < 0) return 1;
  static uint8_t buffers[BATCH][2048];
  static struct sockaddr_storage peers[BATCH];
  static struct iovec vectors[BATCH], reply_vectors[BATCH];
  static struct mmsghdr received[BATCH], replies[BATCH];
  static union {
    char bytes[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } segment_sizes[BATCH];
  // Reset only what the previous batch used: a full reset per wake-up costs more than the echo itself.
  uint64_t last_datagram = 0;
  for (int count = BATCH;;) {
    for (int i = 0; i < count; i++) {
      vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = sizeof buffers[i]};
      received[i] = (struct mmsghdr){
          .msg_hdr = {.msg_name = &peers[i], .msg_namelen = sizeof peers[i], .msg_iov = &vectors[i], .msg_iovlen = 1}};
    }
    // MSG_WAITFORONE: block for the first datagram, then take what else is queued; MSG_DONTWAIT while
    // spinning.
    int spinning = now_us() - last_datagram < SPIN_US;
    count = recvmmsg(server, received, BATCH, spinning ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
    if (count > 0) last_datagram = now_us();
    if (count < 0) count = 0;
    int reply_count = 0;
    struct msghdr *reply = NULL; // the message the next reply may join
    for (int i = 0; i < count; i++) {
      uint8_t *datagram = buffers[i];
      unsigned token_length = datagram[0] & 0x0f;
      if (received[i].msg_len < 4 + token_length || token_length > 8) continue;
      datagram[0] = 0x60 | token_length; // ACK
      datagram[1] = 0x45;                // 2.05
      reply_vectors[i] = (struct iovec){.iov_base = datagram, .iov_len = 4 + token_length};
      // Replies of one message are consecutive in reply_vectors, so a skipped request closes it.
      int joins = reply && reply->msg_iov + reply->msg_iovlen == &reply_vectors[i] &&
                  reply->msg_iov[0].iov_len == reply_vectors[i].iov_len && reply->msg_iovlen < GSO_SEGMENTS &&
                  reply->msg_namelen == received[i].msg_hdr.msg_namelen &&
                  memcmp(reply->msg_name, &peers[i], reply->msg_namelen) == 0;
      if (joins) {
        reply->msg_iovlen++;
        continue;
      }
      reply = &replies[reply_count++].msg_hdr;
      *reply = (struct msghdr){.msg_name = &peers[i],
                               .msg_namelen = received[i].msg_hdr.msg_namelen,
                               .msg_iov = &reply_vectors[i],
                               .msg_iovlen = 1};
    }
    // A message of several replies says their size, so the kernel sends one datagram per reply.
    for (int r = 0; r < reply_count; r++) {
      struct msghdr *message = &replies[r].msg_hdr;
      if (message->msg_iovlen < 2) continue;
      message->msg_control = segment_sizes[r].bytes;
      message->msg_controllen = sizeof segment_sizes[r].bytes;
      struct cmsghdr *header = CMSG_FIRSTHDR(message);
      header->cmsg_level = SOL_UDP;
      header->cmsg_type = UDP_SEGMENT;
      header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = message->msg_iov[0].iov_len;
      memcpy(CMSG_DATA(header), &size, sizeof size);
    }
    for (int sent = 0; sent < reply_count;) {
      int result = sendmmsg(server, replies + sent, reply_count - sent, 0);
      if (result <= 0) break;
      sent += result;
    }
  }
}
