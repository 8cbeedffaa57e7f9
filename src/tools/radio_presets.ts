/**
 * Radio presets for `overhead --radio`: a bit rate and a typical transmit
 * current, each with where the figures come from. Link-layer and PHY framing
 * (preambles, MAC headers, checksums, acknowledgement frames) are not in these
 * numbers; `--frame-bytes` adds a per-packet figure when wanted.
 * @module
 */

/** One radio: the figures the calculator uses and the assumption behind them. */
export interface RadioPreset {
  readonly name: string;
  /** Raw PHY bit rate in bit/s. */
  readonly bitrate: number;
  /** Supply current while transmitting, mA. */
  readonly txCurrentMa: number;
  /** One line: source of the figures and what they leave out. */
  readonly note: string;
}

/** The presets by their `--radio` name. */
export const RADIO_PRESETS: Readonly<Record<string, RadioPreset>> = {
  "802.15.4": {
    name: "IEEE 802.15.4, 2.4 GHz O-QPSK",
    bitrate: 250_000,
    txCurrentMa: 17.4,
    note: "TI CC2420 datasheet: 17.4 mA TX at 0 dBm (18.8 mA RX); 127-byte frames, 6LoWPAN compression " +
      "and fragmentation not modelled",
  },
  lora: {
    name: "LoRa SF7, 125 kHz, CR 4/5",
    // SF × BW / 2^SF × 4/(4+CR) = 7 × 125000 / 128 × 4/5
    bitrate: 5_468.75,
    txCurrentMa: 29,
    note: "Semtech SX1276 datasheet: 29 mA TX at +13 dBm (RFO); preamble, header and symbol rounding " +
      "not modelled; LoRaWAN carries no IP without SCHC (RFC 8724)",
  },
  ble: {
    name: "Bluetooth LE 1M PHY",
    bitrate: 1_000_000,
    txCurrentMa: 5.3,
    note: "Nordic nRF52832 product specification: 5.3 mA TX at 0 dBm with DC/DC at 3 V; IPv6 over BLE " +
      "(RFC 7668) and connection events not modelled",
  },
  "nb-iot": {
    name: "NB-IoT (LTE Cat-NB1) uplink",
    bitrate: 62_500,
    txCurrentMa: 220,
    note: "3GPP Rel-13 multi-tone uplink peak 62.5 kbit/s; ~220 mA at 23 dBm from typical module " +
      "datasheets; repetitions, RRC connection and PSM/eDRX not modelled",
  },
  wifi: {
    name: "Wi-Fi 802.11g, 54 Mbit/s",
    bitrate: 54_000_000,
    txCurrentMa: 190,
    note: "Espressif ESP32 datasheet: 190 mA TX for 802.11g 54 Mbit/s at 16 dBm; PLCP preamble, MAC " +
      "header, 802.11 ACK frames and association not modelled",
  },
};
