/**
 * The application's side of RFC 7641: a resource made observable announces
 * its state changes; the server's ObserveRegistry (observe.ts) turns each into
 * notifications for its observers.
 * @module
 */
import { codeString, isSuccess } from "../message/code.ts";
import type { Resource } from "./resource.ts";

/**
 * How a resource's notifications go out: how often one is Confirmable (every Nth; the lab's pattern is 5;
 * 1 = all CON, 0 = all NON), and whether observers share renderings.
 */
export interface NotifyPolicy {
  /** Every Nth notification is sent as a CON; 1 = all, 0 = none. */
  conEvery: number;
  /**
   * Each change runs the GET handler once per form of request, not once per observer: observers whose
   * registrations are alike — the same message type and options (path, query, Accept, ETag, Block2 size
   * …) but Observe, the same payload, the same DTLS identity (`request.identity`) — all get that one
   * rendering, each with its own token, Message ID and sequence number. A handler whose output depends
   * on more of the request, such as `request.peer`, sets `renderPerPeer`: then only the observations of
   * one peer (address and port) share renderings.
   */
  renderPerPeer: boolean;
}

/** A resource whose state changes are pushed to observers. */
export interface ObservableResource extends Resource {
  /** Marks the resource as observable (RFC 7641); isObservable() tests for it. */
  readonly obs: true;
  /** Confirmable-notification policy for this resource. */
  readonly notify: NotifyPolicy;
  /** Signals a new state: every observer gets a notification. */
  changed(): void;
  /**
   * Ends every observation with an error response (RFC 7641 §3.2, §4.2): each observer gets `code` (4.xx or
   * 5.xx, e.g. 4.04 after the resource is gone, 4.06 after its Content-Format changed), without Observe.
   */
  terminate(code: number, diagnostic?: string): void;
}

/** What terminate() tells the registry. */
export interface Ending {
  readonly code: number;
  readonly diagnostic: string;
}

const LISTENERS = Symbol("observe listeners");

/**
 * Makes a resource observable. Call `changed()` whenever its state changes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, observable, Site } from "../mod.ts";
 * let reading = 22.5;
 * const temperature = observable({ get: () => reading.toFixed(1) });
 * const server = new CoapServer(new Site().add("temperature", temperature), { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const observation = await client.observe(`coap://127.0.0.1:${server.address.port}/temperature`);
 * reading = 23.0;
 * temperature.changed();
 * for await (const notification of observation) {
 *   assert.equal(notification.text(), "23.0");
 *   break; // leaving the loop deregisters
 * }
 * client.close();
 * server.close();
 * ```
 */
export function observable<R extends Resource>(
  resource: R,
  policy: Partial<NotifyPolicy> = {},
): R & ObservableResource {
  const listeners = new Set<(ending?: Ending) => void>();
  return Object.assign(resource, {
    obs: true as const,
    notify: { conEvery: policy.conEvery ?? 5, renderPerPeer: policy.renderPerPeer ?? false },
    changed: () => listeners.forEach((listener) => listener()),
    terminate: (code: number, diagnostic = "") => {
      if (isSuccess(code)) throw new RangeError(`terminate() takes an error code, not ${codeString(code)}`);
      listeners.forEach((listener) => listener({ code, diagnostic }));
    },
    [LISTENERS]: listeners,
  });
}

/** Whether a resource was made with observable(). */
export function isObservable(resource: Resource): resource is ObservableResource {
  return LISTENERS in resource;
}

/** Calls `listener` on each change of `resource` (with the ending, for terminate()); returns what stops it. */
export function onChange(resource: ObservableResource, listener: (ending?: Ending) => void): () => void {
  const listeners = (resource as unknown as Record<symbol, Set<(ending?: Ending) => void>>)[LISTENERS];
  listeners.add(listener);
  return () => listeners.delete(listener);
}
