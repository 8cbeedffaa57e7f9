/**
 * CoAP (RFC 7252) for Deno, with the message codec in WebAssembly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, decode, encode, encodeString, OptionNumber, Type, uriPath } from "./mod.ts";
 * const bytes = encode({
 *   type: Type.CON,
 *   code: Code.Get,
 *   messageId: 0x1234,
 *   token: Uint8Array.of(0xab),
 *   options: [{ number: OptionNumber.UriPath, value: encodeString("temperature") }],
 *   payload: new Uint8Array(),
 * });
 * const message = decode(bytes);
 * assert.equal(message.messageId, 0x1234);
 * assert.equal(uriPath(message), "/temperature");
 * ```
 * @module
 */
export { parseType, Type, typeName } from "./message/type.ts";
export {
  Code,
  codeClass,
  codeDetail,
  codeName,
  codeString,
  isClientError,
  isRequest,
  isResponse,
  isServerError,
  isSuccess,
  parseCode,
} from "./message/code.ts";
export { ContentFormat, contentFormatName } from "./message/content_format.ts";
export {
  isCritical,
  isNoCacheKey,
  isUnsafe,
  knownOptions,
  optionInfo,
  optionName,
  OptionNumber,
} from "./message/option.ts";
export type { OptionFormat, OptionInfo } from "./message/option.ts";
export {
  blockSize,
  decodeBlock,
  decodeString,
  decodeUint,
  encodeBlock,
  encodeString,
  encodeUint,
  isUtf8,
  joinUriPath,
  joinUriQuery,
  splitUriPath,
  splitUriQuery,
} from "./message/option_value.ts";
export type { Block } from "./message/option_value.ts";
export {
  getOption,
  getOptions,
  getStringOption,
  getUintOption,
  uriPath,
  uriQuery,
} from "./message/message.ts";
export type { CoapOption, Message } from "./message/message.ts";
export { CoapFormatError, decode, encode } from "./message/codec.ts";
export type { FormatErrorReason } from "./message/codec.ts";
export { DEFAULT_LIMITS, Endpoint } from "./endpoint/endpoint.ts";
export type {
  EndpointOptions,
  EndpointStats,
  Exchange,
  Inbound,
  MessageLayerSizes,
  Outgoing,
  Peer,
} from "./endpoint/endpoint.ts";
export { ResetError, TimeoutError, UnreachableError } from "./endpoint/errors.ts";
export { type Clock, realClock, type TimerHandle, VirtualClock } from "./endpoint/clock.ts";
export {
  DEFAULT_PARAMETERS,
  exchangeLifetime,
  maxTransmitSpan,
  maxTransmitWait,
  nonLifetime,
  type TransmissionParameters,
} from "./endpoint/params.ts";
export type { TraceEvent } from "./endpoint/trace.ts";
export {
  type Address,
  addressKey,
  type Datagram,
  type Transport,
  type UnreachableReason,
} from "./transport/transport.ts";
export { type UdpOptions, udpTransport } from "./transport/udp.ts";
export { type BatchedUdpOptions, batchedUdpTransport } from "./transport/batched_udp.ts";
export { type UdpChoice, type UdpChoiceOptions, udpTransportFor } from "./transport/udp_choice.ts";
export { type LinkConditions, type LinkEvent, MemoryLink } from "./transport/memory_link.ts";
export {
  type ClientOptions,
  CoapClient,
  type Method,
  type RequestOptions,
  type SendOptions,
} from "./client/client.ts";
export {
  ALL_RESPONSE_CLASSES,
  declines,
  encodeNoResponse,
  type ResponseClass,
} from "./message/no_response.ts";
export { CoapResponse } from "./client/response.ts";
export { COAP_PORT, type RequestTarget, resolveCoapUri } from "./client/uri.ts";
export { Site } from "./server/site.ts";
export { staticSite, type StaticSiteOptions } from "./server/static_site.ts";
export type { Handler, HandlerResult, Resource, ResponseInit } from "./server/resource.ts";
export { CoapRequest } from "./server/request.ts";
export { CoapError } from "./server/coap_error.ts";
export { conditionalAnswer } from "./server/conditional.ts";
export { discoveryResource, wellKnownCore } from "./server/discovery.ts";
export { CoapServer, type RequestLogEntry, type ServerOptions, type ServerStats } from "./server/server.ts";
export type { ServerLimitOptions, ServerLimits } from "./server/limits.ts";
export type { AmplificationLimits } from "./server/amplification.ts";
export { Observation, type ObservationEvent } from "./client/observation.ts";
export { BlockwiseError, type TransferLimit, TransferLimitError } from "./client/transfer_errors.ts";
export { DEFAULT_MAX_BODY_SIZE, DEFAULT_TRANSFER_TIMEOUT_MS } from "./client/block2_completion.ts";
export { ReplacedError } from "./endpoint/errors.ts";
export { isObservable, type NotifyPolicy, observable, type ObservableResource } from "./server/observable.ts";
export type { ObserveLimits } from "./server/observe.ts";
export {
  DTLS_SERVER_LIMITS,
  type DtlsServerLimits,
  type DtlsServerOptions,
  type DtlsServerStats,
  type DtlsServerTransport,
  dtlsServerTransport,
  type DtlsSessionEvent,
} from "./transport/dtls_server.ts";
export {
  type DtlsClientOptions,
  type DtlsClientTransport,
  dtlsClientTransport,
  type Handshake,
  type SessionStore,
} from "./transport/dtls_client.ts";
export { DtlsError } from "./dtls/session.ts";
export { sessionFile } from "./dtls/session_file.ts";
export type {
  CertificateFiles,
  ContextTuning,
  DtlsClientCredentials,
  DtlsServerCredentials,
} from "./dtls/context.ts";
