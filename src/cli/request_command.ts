/** `get|put|post|delete|fetch|patch|ipatch URI …`: one request, the response printed, an exit code. */
import { type ClientOptions, CoapClient, type Method } from "../client/client.ts";
import type { CoapResponse } from "../client/response.ts";
import { ResetError, TimeoutError, UnreachableError } from "../endpoint/errors.ts";
import { BlockwiseError, type TransferLimit, TransferLimitError } from "../client/transfer_errors.ts";
import { messageToJson } from "../tools/message_json.ts";
import {
  blockSizeFlag,
  byteSizeFlag,
  contentFormatFlag,
  integerFlag,
  opaqueFlag,
  optionFlag,
  responseClassesFlag,
  secondsFlag,
} from "./flag_values.ts";
import { ALL_RESPONSE_CLASSES } from "../message/no_response.ts";
import { optionInfo, OptionNumber } from "../message/option.ts";
import { forTerminal, writeResponse } from "./terminal_output.ts";
import { parseFlags } from "./parse_flags.ts";
import { ProgressLine } from "./progress_line.ts";
import {
  CLIENT_DTLS_FLAGS,
  CLIENT_DTLS_USAGE,
  type ClientDtlsFlags,
  clientDtlsOptions,
} from "./dtls_flags.ts";
import { DtlsError } from "../dtls/session.ts";
import { TRACE_FLAGS, TRACE_USAGE, type TraceFlags, type TraceOutputs, traceOutputs } from "./trace_flags.ts";
import { UDP_USAGE, udpFlag } from "./udp_flag.ts";
import { EXIT_ERROR_RESPONSE, EXIT_NO_RESPONSE, EXIT_OK, UsageError } from "./usage_error.ts";

/** Usage text of the flags every command that talks to a server takes (CLIENT_FLAGS). */
export const CLIENT_USAGE = `--timeout S  --ack-timeout S (2)  --max-retransmit N (4)
    --max-body BYTES (16M; 1M = 1048576)  --transfer-timeout S (300, a block-wise transfer)
    ${UDP_USAGE}
    ${CLIENT_DTLS_USAGE}
    ${TRACE_USAGE}`;

/** Usage text of the request commands. */
export const REQUEST_USAGE = `get|put|post|delete|fetch|patch|ipatch URI [flags]
  Send one request and print the response: piped, the payload's bytes alone (the code line on
  stderr); on a terminal, the code line and the payload laid out by its Content-Format.
    --payload TEXT | --payload @FILE | --payload - (stdin) | --file FILE    the request body
    -o FILE (a 2.xx payload's bytes)  --json (the whole response)  --non (Non-confirmable)
    --content-format CF  --accept CF    CF: a number or a name (json, cbor, text, link-format, …)
    --query k=v  --option NUMBER=HEX (any option, e.g. 2048=0a0b)  --etag HEX    (all repeatable)
    --if-match HEX (repeatable; "" = if it exists)  --if-none-match  --block-size 16…1024
    --no-response 2,4,5 (RFC 7967: classes the server should not send)
    ${CLIENT_USAGE}
  exit code: 0 for 2.xx; 1 for 4.xx/5.xx or a response refused (over a limit, blocks out of order);
    2 usage error; 3 timeout, reset, unreachable (ICMP) or DTLS handshake failure
  examples:
    get coap://[::1]/temperature
    put coap://127.0.0.1/config --payload '{"interval":30}' --content-format json
    get coap://127.0.0.1/large -o large.txt
    get coaps://127.0.0.1/temperature --psk-identity dev1 --psk secret`;

/** The flags of ClientFlags, as parseFlags takes them. */
export const CLIENT_FLAGS = {
  timeout: { type: "string" },
  "ack-timeout": { type: "string" },
  "max-retransmit": { type: "string" },
  "max-body": { type: "string" },
  "transfer-timeout": { type: "string" },
  udp: { type: "string" },
  ...CLIENT_DTLS_FLAGS,
  ...TRACE_FLAGS,
} as const;

/** The flags that set each of the client's limits, as errors name them. */
const LIMIT_FLAGS: Record<TransferLimit, string> = {
  maxBodySize: "--max-body",
  transferTimeout: "--transfer-timeout",
};
/** The largest --max-body: a body is held in one buffer. */
const MAX_BODY_FLAG_LIMIT = 1024 ** 3;

const FLAGS = {
  payload: { type: "string" },
  file: { type: "string" },
  "content-format": { type: "string" },
  accept: { type: "string" },
  query: { type: "string", multiple: true },
  non: { type: "boolean" },
  "no-response": { type: "string" },
  "if-match": { type: "string", multiple: true },
  "if-none-match": { type: "boolean" },
  etag: { type: "string", multiple: true },
  option: { type: "string", multiple: true },
  "block-size": { type: "string" },
  json: { type: "boolean" },
  output: { type: "string", short: "o" },
  ...CLIENT_FLAGS,
} as const;

/** The client flags every command that talks to a server shares. */
export type ClientFlags = TraceFlags & ClientDtlsFlags & {
  timeout?: string;
  "ack-timeout"?: string;
  "max-retransmit"?: string;
  "max-body"?: string;
  "transfer-timeout"?: string;
  udp?: string;
};

/** A client that also closes the trace files its flags opened when it closes. */
class TracedClient extends CoapClient {
  readonly #traces: TraceOutputs;

  constructor(options: ClientOptions, traces: TraceOutputs) {
    super(options);
    this.#traces = traces;
  }

  override close(): void {
    super.close();
    this.#traces.close();
  }
}

/**
 * A client configured from the shared flags: --verbose, --trace, --trace-json
 * and --pcap see every datagram (TraceOutputs); --max-body and
 * --transfer-timeout bound block-wise responses.
 */
export async function clientFromFlags(values: ClientFlags, uri: string): Promise<CoapClient> {
  const parameters: { ackTimeout?: number; maxRetransmit?: number } = {};
  if (values["ack-timeout"] !== undefined) {
    parameters.ackTimeout = secondsFlag("ack-timeout", values["ack-timeout"]);
  }
  if (values["max-retransmit"] !== undefined) {
    parameters.maxRetransmit = integerFlag("max-retransmit", values["max-retransmit"], 20);
  }
  const maxBodySize = values["max-body"] === undefined
    ? undefined
    : byteSizeFlag("max-body", values["max-body"], MAX_BODY_FLAG_LIMIT);
  const transferTimeout = values["transfer-timeout"] === undefined
    ? undefined
    : secondsFlag("transfer-timeout", values["transfer-timeout"]);
  const traces = await traceOutputs(values, "client", { encrypted: /^coaps:/i.test(uri) });
  const dtls = clientDtlsOptions(values, traces.show);
  return new TracedClient({
    parameters,
    maxBodySize,
    transferTimeout,
    udp: udpFlag(values.udp),
    onTrace: traces.onTrace,
    dtls: dtls && { ...dtls, onDatagram: traces.onDatagram },
  }, traces);
}

/** Turns the ways a request can fail into exit codes; anything else propagates. */
export async function withClientErrors(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (
      error instanceof TimeoutError || error instanceof ResetError || error instanceof UnreachableError ||
      error instanceof DtlsError
    ) {
      console.error(`error: ${error.message}`);
      return EXIT_NO_RESPONSE;
    }
    // The server answered, but with something the client would not take.
    if (error instanceof TransferLimitError) {
      console.error(`error: ${limitMessage(error)}`);
      return EXIT_ERROR_RESPONSE;
    }
    if (error instanceof BlockwiseError) {
      console.error(`error: ${error.message}`);
      return EXIT_ERROR_RESPONSE;
    }
    if (error instanceof URIError) throw new UsageError(error.message);
    throw error;
  }
}

/** A TransferLimitError as the commands say it: the limit named by its flag ("--max-body"). */
export function limitMessage(error: TransferLimitError): string {
  return error.describe(LIMIT_FLAGS[error.limit]);
}

/**
 * Prints a response as the commands do: as JSON with --json, else as writeResponse lays it out (on a
 * terminal the code line and a readable payload; otherwise the payload's bytes alone on stdout).
 */
export function printResponse(response: CoapResponse, json: boolean, rtt: number): void {
  if (json) {
    console.log(forTerminal(
      JSON.stringify({ ...messageToJson(response.message), rttMs: Number(rtt.toFixed(3)) }, null, 2),
    ));
    return;
  }
  writeResponse(response);
}

/** The values of a repeatable opaque-option flag, each checked against the option's lengths (option.ts). */
function opaqueFlags(flag: string, texts: string[] | undefined, number: number): Uint8Array[] | undefined {
  const { minLength, maxLength } = optionInfo(number)!;
  return texts?.map((text) => opaqueFlag(flag, text, minLength, maxLength));
}

/** Runs one of get/put/post/delete/fetch/patch/ipatch; returns the exit code. */
export async function requestCommand(method: Method, args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (positionals.length !== 1) throw new UsageError(`expected one URI\nusage: ${REQUEST_USAGE}`);
  if (values.payload !== undefined && values.file !== undefined) {
    throw new UsageError("give --payload or --file, not both");
  }
  let payload: string | Uint8Array | undefined = values.payload;
  // aiocoap's forms: `--payload @FILE` sends the file's bytes, `--payload -` standard input.
  const file = values.file ?? (values.payload?.startsWith("@") ? values.payload.slice(1) : undefined);
  if (file !== undefined) {
    try {
      payload = await Deno.readFile(file);
    } catch (error) {
      throw new UsageError(
        `${values.file === undefined ? "--payload @" : "--file "}${file}: ${(error as Error).message}`,
      );
    }
  } else if (values.payload === "-") {
    payload = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  }
  const noResponse = values["no-response"] === undefined
    ? undefined
    : responseClassesFlag("no-response", values["no-response"]);
  const request = {
    method,
    payload,
    contentFormat: values["content-format"] === undefined
      ? undefined
      : contentFormatFlag("content-format", values["content-format"]),
    accept: values.accept === undefined ? undefined : contentFormatFlag("accept", values.accept),
    query: values.query,
    ifMatch: opaqueFlags("if-match", values["if-match"], OptionNumber.IfMatch),
    ifNoneMatch: values["if-none-match"],
    etags: opaqueFlags("etag", values.etag, OptionNumber.ETag),
    confirmable: !values.non,
    options: (values.option ?? []).map((raw) => optionFlag("option", raw)),
  };
  const client = await clientFromFlags(values, positionals[0]);
  try {
    return await withClientErrors(async () => {
      // RFC 7967: with every class declined nothing will come back; done once sent (NON) or acknowledged.
      if (ALL_RESPONSE_CLASSES.every((responseClass) => noResponse?.includes(responseClass))) {
        await client.send(positionals[0], request);
        console.error(values.non ? "sent; no response wanted" : "acknowledged; no response wanted");
        return EXIT_OK;
      }
      const started = performance.now();
      // --trace and --verbose write their own lines on stderr, which a progress line redrawn in place would garble.
      const traced = values.trace === true || values.verbose === true;
      const progress = traced ? undefined : new ProgressLine(method, pathOf(positionals[0]));
      let response;
      try {
        response = await client.request(positionals[0], {
          ...request,
          noResponse,
          blockSize: values["block-size"] === undefined ? undefined : blockSizeFlag(values["block-size"]),
          timeout: values.timeout === undefined ? undefined : secondsFlag("timeout", values.timeout),
          onProgress: progress?.onProgress,
        });
      } finally {
        progress?.clear();
      }
      if (values.output !== undefined && response.isSuccess) {
        // -o: the representation's exact bytes into the file; the code line where it goes without -o.
        await writeOutput(values.output, response.payload);
        writeResponse(response, { payload: false });
      } else {
        printResponse(response, values.json === true, performance.now() - started);
      }
      return response.isSuccess ? EXIT_OK : EXIT_ERROR_RESPONSE;
    });
  } finally {
    client.close();
  }
}

/** The path of a URI, for the progress line; the URI itself if it does not parse (the request will say why). */
function pathOf(uri: string): string {
  return URL.canParse(uri) ? new URL(uri).pathname : uri;
}

async function writeOutput(path: string, payload: Uint8Array): Promise<void> {
  try {
    await Deno.writeFile(path, payload);
  } catch (error) {
    throw new UsageError(`-o ${path}: ${(error as Error).message}`);
  }
}
