/**
 * A directory served as CoAP resources: each file a resource at its path, read when a request comes (so
 * an edit on disk shows in the next response), with an ETag from its content; optionally writable by
 * PUT and DELETE, confined to the directory.
 * @module
 */
import { dirname, join, resolve, sep } from "node:path";
import { Code } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import { CoapError } from "./coap_error.ts";
import { conditionalAnswer } from "./conditional.ts";
import type { CoapRequest } from "./request.ts";
import type { Resource, ResponseInit } from "./resource.ts";
import { Site } from "./site.ts";

/** Content-Format by file extension (RFC 7252 §12.3 and the IANA registry); any other file is 42. */
export const CONTENT_FORMAT_BY_EXTENSION: Readonly<Record<string, number>> = {
  ".txt": ContentFormat.TextPlain,
  ".json": ContentFormat.Json,
  ".cbor": ContentFormat.Cbor,
  ".xml": ContentFormat.Xml,
  ".link": ContentFormat.LinkFormat,
  ".wlnk": ContentFormat.LinkFormat,
};

/** Largest file served, in bytes (1 MiB: 1,024 blocks of 1 KiB, each re-reading the file). */
export const DEFAULT_MAX_FILE_SIZE = 1024 * 1024;
/** Files listed in /.well-known/core at most. */
export const DEFAULT_MAX_LISTED = 1000;
/** Bytes of the ETag: a prefix of the content's SHA-256 (RFC 7252 §5.10.6 allows 1 to 8). */
const ETAG_BYTES = 8;

/** Options of staticSite. */
export interface StaticSiteOptions {
  /** Let PUT create or replace files and DELETE remove them (default false: both get 4.05). */
  writable?: boolean;
  /** Largest file a GET serves (default DEFAULT_MAX_FILE_SIZE); a larger one gets 5.00. */
  maxFileSize?: number;
  /** Files /.well-known/core lists at most (default DEFAULT_MAX_LISTED); the walk stops there. */
  maxListed?: number;
}

/** The Content-Format a file is served with, from its name's extension. */
export function contentFormatOf(name: string): number {
  const dot = name.lastIndexOf(".");
  return (dot > 0 ? CONTENT_FORMAT_BY_EXTENSION[name.slice(dot).toLowerCase()] : undefined) ??
    ContentFormat.OctetStream;
}

/**
 * The files under `dir` as a Site. A GET reads the file at request time and answers with its
 * Content-Format (by extension, contentFormatOf) and an ETag, the first 8 bytes of its SHA-256, so a
 * client's ETag gets 2.03 Valid (RFC 7252 §5.10.6.2); a large file goes in Block2 blocks, each read anew,
 * so a file changed mid-transfer changes the ETag the client checks (RFC 7959 §2.4). /.well-known/core
 * lists the files. Hidden names (leading "."), "..", NUL, "/" or "\" in a segment get 4.03, as does a
 * symlink that leads out of `dir`. With `writable`, PUT writes a file (a temporary file renamed over it,
 * so a GET sees the old or the new content, never part), creating directories on the way; DELETE removes
 * it; both honour If-Match and If-None-Match (RFC 7252 §5.10.8). The body's size is bounded by the
 * server's `maxBodySize` (default 2 MiB). Resources added with `add` come first.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, OptionNumber, staticSite } from "../mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
 * const server = new CoapServer(staticSite(dir, { writable: true }), { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const base = `coap://127.0.0.1:${server.address.port}`;
 * const hello = await client.get(`${base}/hello.txt`);
 * assert.equal(hello.text(), "hello");
 * assert.equal((await client.get(`${base}/hello.txt`, { etags: [hello.option(OptionNumber.ETag)!] })).codeString, "2.03");
 * assert.equal((await client.put(`${base}/notes/today.json`, '{"ok":true}')).codeString, "2.01");
 * assert.equal(await Deno.readTextFile(`${dir}/notes/today.json`), '{"ok":true}');
 * assert.equal((await client.get(`${base}/.well-known/core`)).text(), "</hello.txt>;ct=0;sz=5,</notes/today.json>;ct=50;sz=11");
 * client.close();
 * server.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function staticSite(dir: string, options: StaticSiteOptions = {}): Site {
  return new StaticSite(dir, options);
}

class StaticSite extends Site {
  /**
   * The directory as given, made absolute: files are reached through it, so a permission granted for that
   * path (`deno run --allow-read=DIR`) covers them even when DIR is a symlink (systemd's StateDirectory with
   * DynamicUser is one).
   */
  readonly #dir: string;
  /** The directory, symlinks resolved: every file served or written must resolve inside it. */
  readonly #root: string;
  readonly #writable: boolean;
  readonly #maxFileSize: number;
  readonly #maxListed: number;
  /** PUTs and DELETEs one after another, so a condition checked still holds when the file changes. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(dir: string, options: StaticSiteOptions) {
    super();
    this.#dir = resolve(dir);
    this.#root = Deno.realPathSync(dir);
    if (!Deno.statSync(this.#dir).isDirectory) throw new Error(`${dir} is not a directory`);
    this.#writable = options.writable ?? false;
    this.#maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    this.#maxListed = options.maxListed ?? DEFAULT_MAX_LISTED;
  }

  /** A resource added to the site, or the file at these segments (which may not exist yet: PUT makes it). */
  override find(segments: string[]): Resource | undefined {
    const added = super.find(segments);
    if (added !== undefined || segments.length === 0) return added;
    if (!segments.every(servable)) return FORBIDDEN;
    const path = join(this.#dir, ...segments);
    const resource: Resource = { get: (request) => this.#get(request, path) };
    if (this.#writable) {
      resource.put = (request) => this.#serialized(() => this.#put(request, path));
      resource.delete = (request) => this.#serialized(() => this.#delete(request, path));
    }
    return resource;
  }

  /** Resources added, then the files, depth first in name order, up to `maxListed`. */
  override *entries(): IterableIterator<[string, Resource]> {
    yield* super.entries();
    yield* this.#walk(this.#dir, [], { left: this.#maxListed });
  }

  *#walk(dir: string, segments: string[], budget: { left: number }): Generator<[string, Resource]> {
    let listing: Deno.DirEntry[];
    try {
      listing = [...Deno.readDirSync(dir)];
    } catch {
      return; // unreadable (permissions, removed meanwhile): nothing to list there
    }
    const entries = listing.filter((entry) => servable(entry.name))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const entry of entries) {
      if (budget.left <= 0) return;
      const path = join(dir, entry.name);
      const inner = [...segments, entry.name];
      // Directories are walked only when real: a symlinked one could loop or lead out.
      if (entry.isDirectory) {
        yield* this.#walk(path, inner, budget);
        continue;
      }
      const size = this.#servedSize(path);
      if (size === undefined) continue;
      budget.left--;
      yield ["/" + inner.map(encodeURIComponent).join("/"), { ct: contentFormatOf(entry.name), sz: size }];
    }
  }

  /** The size of a regular file inside the root (following symlinks that stay inside), or undefined. */
  #servedSize(path: string): number | undefined {
    try {
      if (!this.#inside(Deno.realPathSync(path))) return undefined;
      const info = Deno.statSync(path);
      return info.isFile ? info.size : undefined;
    } catch {
      return undefined;
    }
  }

  #inside(real: string): boolean {
    return real === this.#root || real.startsWith(this.#root.endsWith(sep) ? this.#root : this.#root + sep);
  }

  async #get(request: CoapRequest, path: string): Promise<ResponseInit> {
    const content = await this.#read(path);
    if (content === undefined) throw new CoapError(Code.NotFound);
    const contentFormat = contentFormatOf(path);
    // RFC 7252 §5.10.4: one representation per file, so an Accept naming another format gets 4.06.
    if (request.accept !== undefined && request.accept !== contentFormat) {
      throw new CoapError(Code.NotAcceptable, `served as Content-Format ${contentFormat}`);
    }
    const etag = await etagOf(content);
    return conditionalAnswer(request, etag) ?? { payload: content, contentFormat, etag };
  }

  /**
   * The file's bytes; undefined when there is no regular file there. Throws 4.03 for a symlink leading out
   * of the root and 5.00 for a file beyond maxFileSize.
   */
  async #read(path: string): Promise<Uint8Array | undefined> {
    let info: Deno.FileInfo;
    try {
      if (!this.#inside(await Deno.realPath(path))) {
        throw new CoapError(Code.Forbidden, "symlink leads out of the served directory");
      }
      info = await Deno.stat(path);
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
    if (!info.isFile) return undefined;
    if (info.size > this.#maxFileSize) {
      throw new CoapError(Code.InternalServerError, `file larger than ${this.#maxFileSize} bytes`);
    }
    try {
      return await Deno.readFile(path);
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
  }

  /** The current ETag of the file, undefined when there is none (for If-Match and If-None-Match). */
  async #currentEtag(path: string): Promise<Uint8Array | undefined> {
    const content = await this.#read(path);
    return content === undefined ? undefined : await etagOf(content);
  }

  #serialized<T>(write: () => Promise<T>): Promise<T> {
    const done = this.#writes.then(write);
    this.#writes = done.catch(() => {});
    return done;
  }

  async #put(request: CoapRequest, path: string): Promise<ResponseInit> {
    await this.#checkParents(path);
    const existing = await lstatOrUndefined(path);
    if (existing?.isDirectory) throw new CoapError(Code.Forbidden, "a directory is there");
    const etag = await this.#currentEtag(path);
    conditionalAnswer(request, etag);
    await Deno.mkdir(dirname(path), { recursive: true });
    // Hidden, so never served or listed while it exists; renamed over the file in one step (POSIX rename).
    const temporary = join(dirname(path), `.put-${crypto.randomUUID()}.tmp`);
    try {
      await Deno.writeFile(temporary, request.payload);
      await Deno.rename(temporary, path);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
    return { code: etag === undefined ? Code.Created : Code.Changed, etag: await etagOf(request.payload) };
  }

  async #delete(request: CoapRequest, path: string): Promise<ResponseInit> {
    await this.#checkParents(path);
    const etag = await this.#currentEtag(path);
    if (etag === undefined) throw new CoapError(Code.NotFound);
    conditionalAnswer(request, etag);
    await Deno.remove(path);
    return { code: Code.Deleted };
  }

  /** 4.03 unless the deepest existing directory above `path` resolves inside the root (mkdir follows links). */
  async #checkParents(path: string): Promise<void> {
    let parent = dirname(path);
    while (parent !== this.#dir && await lstatOrUndefined(parent) === undefined) parent = dirname(parent);
    let real: string;
    try {
      real = await Deno.realPath(parent);
    } catch {
      throw new CoapError(Code.Forbidden, "path leads out of the served directory");
    }
    if (!this.#inside(real) || !(await Deno.stat(parent)).isDirectory) {
      throw new CoapError(Code.Forbidden, "path leads out of the served directory or through a file");
    }
  }
}

/** Every method refused: a path segment that can never name a served file. */
const FORBIDDEN: Resource = {
  get: forbidden,
  put: forbidden,
  delete: forbidden,
  post: forbidden,
  fetch: forbidden,
  patch: forbidden,
  ipatch: forbidden,
};

function forbidden(): never {
  throw new CoapError(Code.Forbidden, "hidden or invalid path segment");
}

/** A segment that may name a file: not hidden (so no "." or ".."), no NUL, no separator. */
function servable(segment: string): boolean {
  return segment !== "" && !segment.startsWith(".") && !/[\0/\\]/.test(segment);
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (missing(error)) return undefined;
    throw error;
  }
}

/** No such file: not there, or a file where a directory on the way should be (ENOTDIR). */
function missing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

async function etagOf(content: Uint8Array): Promise<Uint8Array> {
  const hash = await crypto.subtle.digest("SHA-256", content as Uint8Array<ArrayBuffer>);
  return new Uint8Array(hash, 0, ETAG_BYTES);
}
