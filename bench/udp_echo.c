// The generator's ceiling for bench:server: a C UDP server that turns each
// CON request into an empty-payload ACK 2.05 in place and sends it back.
// usage: udp_echo PORT
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  int server = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (bind(server, (struct sockaddr *)&address, sizeof address) < 0) return 1;
  uint8_t buffer[2048];
  for (;;) {
    struct sockaddr_storage peer;
    socklen_t peer_length = sizeof peer;
    ssize_t size = recvfrom(server, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &peer_length);
    if (size < 4) continue;
    int token_length = buffer[0] & 0x0f;
    buffer[0] = 0x60 | token_length; // ACK
    buffer[1] = 0x45;                // 2.05
    sendto(server, buffer, 4 + token_length, 0, (struct sockaddr *)&peer, peer_length);
  }
}
