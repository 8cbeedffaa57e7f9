// The generator's ceiling for bench:server: a C UDP server that turns each
// CON request into an empty-payload ACK 2.05 in place and sends it back. It
// moves datagrams in batches (recvmmsg/sendmmsg) as the generator does, so
// the row measures the generator and the loopback, not this echo's syscalls.
// usage: udp_echo PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#define BATCH 1024 // UIO_MAXIOV

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int server = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (bind(server, (struct sockaddr *)&address, sizeof address) < 0) return 1;
  static uint8_t buffers[BATCH][2048];
  static struct sockaddr_storage peers[BATCH];
  static struct iovec vectors[BATCH];
  static struct mmsghdr received[BATCH], replies[BATCH];
  // Reset only what the previous batch used: a full reset per wake-up costs more than the echo itself.
  for (int count = BATCH;;) {
    for (int i = 0; i < count; i++) {
      vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = sizeof buffers[i]};
      received[i] = (struct mmsghdr){
          .msg_hdr = {.msg_name = &peers[i], .msg_namelen = sizeof peers[i], .msg_iov = &vectors[i], .msg_iovlen = 1}};
    }
    // MSG_WAITFORONE: block for the first datagram, then take what else is queued.
    count = recvmmsg(server, received, BATCH, MSG_WAITFORONE, NULL);
    if (count < 0) count = 0;
    int reply_count = 0;
    for (int i = 0; i < count; i++) {
      uint8_t *datagram = buffers[i];
      unsigned token_length = datagram[0] & 0x0f;
      if (received[i].msg_len < 4 + token_length || token_length > 8) continue;
      datagram[0] = 0x60 | token_length; // ACK
      datagram[1] = 0x45;                // 2.05
      vectors[i].iov_len = 4 + token_length;
      replies[reply_count++].msg_hdr = received[i].msg_hdr;
    }
    for (int sent = 0; sent < reply_count;) {
      int result = sendmmsg(server, replies + sent, reply_count - sent, 0);
      if (result <= 0) break;
      sent += result;
    }
  }
}
