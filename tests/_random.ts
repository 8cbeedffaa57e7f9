/** A seeded PRNG and message generator shared by the tests, so failures reproduce. */
import { type CoapOption, knownOptions, type Message, type Type } from "../src/mod.ts";

/** mulberry32: small, fast, good enough to drive test inputs. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in [0, n). */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** `length` random bytes. */
export function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = randomInt(random, 256);
  return bytes;
}

const KNOWN = knownOptions().map((option) => option.number);
// Lengths around the nibble/extension boundaries (12|13, 268|269) show up often.
const LENGTHS = [0, 1, 2, 4, 8, 12, 13, 14, 267, 268, 269, 270];

/** A random well-formed, non-empty message: any type, request or response code, 0-8 byte token, options spread over the whole number space. */
export function randomMessage(random: () => number): Message {
  const options: CoapOption[] = [];
  const optionCount = randomInt(random, 8);
  for (let i = 0; i < optionCount; i++) {
    const pick = random();
    const number = pick < 0.6
      ? KNOWN[randomInt(random, KNOWN.length)]
      : pick < 0.8
      ? [12, 13, 268, 269, 270, 65535][randomInt(random, 6)]
      : randomInt(random, 65536);
    const length = random() < 0.7 ? randomInt(random, 12) : LENGTHS[randomInt(random, LENGTHS.length)];
    options.push({ number, value: randomBytes(random, length) });
  }
  options.sort((a, b) => a.number - b.number);
  const responseClass = [2, 4, 5][randomInt(random, 3)];
  const code = random() < 0.5 ? 1 + randomInt(random, 31) : (responseClass << 5) | randomInt(random, 32);
  return {
    type: randomInt(random, 4) as Type,
    code,
    messageId: randomInt(random, 65536),
    token: randomBytes(random, randomInt(random, 9)),
    options,
    payload: randomBytes(random, random() < 0.4 ? 0 : randomInt(random, 300)),
  };
}
