/**
 * Reading DTLS record headers without decrypting anything: enough to admit
 * ClientHellos, tell a silent server from a failed handshake, and trace flights.
 * @module
 */

const HEADER = 13;
const CONTENT_TYPES: Record<number, string> = {
  20: "ChangeCipherSpec",
  21: "Alert",
  22: "Handshake",
  23: "Data",
};
const HANDSHAKE_TYPES: Record<number, string> = {
  1: "ClientHello",
  2: "ServerHello",
  3: "HelloVerifyRequest",
  4: "NewSessionTicket",
  11: "Certificate",
  12: "ServerKeyExchange",
  13: "CertificateRequest",
  14: "ServerHelloDone",
  15: "CertificateVerify",
  16: "ClientKeyExchange",
};

/** One record of a datagram, as far as its header and (in epoch 0) its first bytes tell. */
export interface RecordSummary {
  /** "ClientHello", "Finished", "Alert 2/40", "Data" …: the handshake message, or the content type. */
  readonly name: string;
  readonly epoch: number;
  readonly length: number;
}

/** The records of one datagram (RFC 6347 §4.1); a truncated tail is left out. */
export function records(datagram: Uint8Array): RecordSummary[] {
  const found: RecordSummary[] = [];
  let at = 0;
  while (at + HEADER <= datagram.length) {
    const type = datagram[at];
    const epoch = (datagram[at + 3] << 8) | datagram[at + 4];
    const length = (datagram[at + 11] << 8) | datagram[at + 12];
    if (at + HEADER + length > datagram.length) break;
    const body = at + HEADER;
    let name = CONTENT_TYPES[type] ?? `type ${type}`;
    // Only epoch 0 is plaintext; the first encrypted handshake message is Finished.
    if (type === 22) {
      name = epoch === 0 ? HANDSHAKE_TYPES[datagram[body]] ?? `handshake ${datagram[body]}` : "Finished";
    }
    if (type === 21 && epoch === 0 && length >= 2) name = `Alert ${datagram[body]}/${datagram[body + 1]}`;
    found.push({ name, epoch, length: HEADER + length });
    at += HEADER + length;
  }
  return found;
}

/** True for a datagram that starts with an epoch-0 ClientHello: the only thing that may create state. */
export function startsWithClientHello(datagram: Uint8Array): boolean {
  return datagram.length > HEADER && datagram[0] === 22 && datagram[3] === 0 && datagram[4] === 0 &&
    datagram[HEADER] === 1;
}

/** The records of a datagram as one trace line ("ClientHello + ChangeCipherSpec"). */
export function describeDatagram(datagram: Uint8Array): string {
  return records(datagram).map((record) => record.name).join(" + ") || `${datagram.length} bytes, no record`;
}
