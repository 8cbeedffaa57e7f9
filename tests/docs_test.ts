// Every fenced code block in README.md and docs/*.md is exercised here; the rules are in docs/README.md.
// In short: ```ts blocks are type-checked and run from a project outside the repository that imports the
// library as a user would; ```console and ```sh command lines run (or, marked `no-run`, have their flags
// checked against the command's usage) and their shown output is compared; ```json blocks must parse.
import assert from "node:assert/strict";
import { openSsl } from "../src/dtls/libssl.ts";
import { freeUdpPort, hasCommand } from "./_peers.ts";

const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();
const tasks: Record<string, string> = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks;
/** Per program; generous, since a loaded CI machine is slow and a block that hangs fails anyway. */
const RUN_TIMEOUT_MS = 45_000;

/** Why DTLS cannot run here (no system OpenSSL 3), or undefined. Blocks that need it are then skipped. */
const noOpenSsl = (() => {
  try {
    openSsl();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
})();

/** One fenced block: its language, the info string's other words, its text and where it starts. */
interface Block {
  lang: string;
  flags: string[];
  text: string;
  line: number;
}

/** The fenced blocks of a Markdown file, in order. */
export function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+)\s*(\S*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith(`${indent}${fence}`); j++) {
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    blocks.push({ lang, flags: rest.split(/\s+/).filter(Boolean), text: body.join("\n"), line: i + 1 });
    i = j;
  }
  return blocks;
}

/** The ports a block's 5683 and 5684 become, so the test passes while something else holds those. */
interface Ports {
  coap: number;
  coaps: number;
}

/** Rewrites the default ports (explicit, or implied by a URI without one) to the test's free ports. */
export function substitutePorts(text: string, ports: Ports): string {
  return text
    .replace(/(coaps?):\/\/(127\.0\.0\.1|localhost|\[::1\])(?![:\w.])/g, (_, scheme, host) => {
      return `${scheme}://${host}:${scheme === "coaps" ? 5684 : 5683}`;
    })
    .replace(/\b5683\b/g, String(ports.coap))
    .replace(/\b5684\b/g, String(ports.coaps));
}

/** Splits a command line into words: single and double quotes, no other shell syntax. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3]);
  return words;
}

/** Whether `actual` output matches the `expected` lines shown: `…` alone skips lines, within a line any text. */
export function outputMatches(expected: string[], actual: string[]): boolean {
  const toPattern = (line: string) =>
    new RegExp(`^${line.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  const match = (e: number, a: number): boolean => {
    if (e === expected.length) return a === actual.length;
    if (expected[e].trim() === "…") {
      for (let skip = a; skip <= actual.length; skip++) if (match(e + 1, skip)) return true;
      return false;
    }
    return a < actual.length && toPattern(expected[e]).test(actual[a]) && match(e + 1, a + 1);
  };
  return match(0, 0);
}

function trimmedLines(text: string): string[] {
  const lines = text.split("\n").map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** A command and the output lines shown under it. */
interface Step {
  command: string;
  expected: string[];
}

function steps(block: Block): Step[] {
  if (block.lang === "sh") {
    return block.text.split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
      .map((command) => ({ command, expected: [] }));
  }
  const result: Step[] = [];
  for (const line of block.text.split("\n")) {
    if (line.startsWith("$ ")) result.push({ command: line.slice(2), expected: [] });
    else if (result.length > 0) result[result.length - 1].expected.push(line.trimEnd());
  }
  for (const step of result) {
    while (step.expected.length > 0 && step.expected[step.expected.length - 1] === "") step.expected.pop();
  }
  return result;
}

/** A command line without its trailing comment (`  # …`) and background `&`. */
function parseCommand(line: string): { words: string[]; background: boolean } {
  let command = line.replace(/\s+#\s.*$/, "").trim();
  const background = command.endsWith(" &");
  if (background) command = command.slice(0, -2).trim();
  return { words: shellWords(command), background };
}

/**
 * `npx deno task NAME …` as the script it runs: the runtime flags before `-A` (serve's `--v8-flags`), and
 * [file, ...fixed args]; undefined for anything else.
 */
function taskScript(words: string[]): { name: string; flags: string[]; script: string[] } | undefined {
  if (words[0] !== "npx" || words[1] !== "deno" || words[2] !== "task") return undefined;
  const name = words[3];
  const task = tasks[name];
  assert.ok(task, `no task "${name}" in deno.json`);
  const run = /\.\/node_modules\/\.bin\/deno run (.*?)-A (\S+)(.*)$/.exec(task);
  return run
    ? { name, flags: shellWords(run[1]), script: [`${root}${run[2]}`, ...shellWords(run[3])] }
    : { name, flags: [], script: [] };
}

const usageCache = new Map<string, string>();

/** The text a command's flags must appear in: its `--help` (main.ts), or the task's script source. */
async function usageText(script: string[]): Promise<string> {
  const key = script.join(" ");
  let text = usageCache.get(key);
  if (text === undefined) {
    if (script[0].endsWith("/main.ts")) {
      const output = await new Deno.Command(deno, {
        args: ["run", "-A", "--quiet", ...script, "--help"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      text = new TextDecoder().decode(output.stdout);
    } else {
      text = Deno.readTextFileSync(script[0]);
    }
    usageCache.set(key, text);
  }
  return text;
}

/** Every `--flag` (and `-o`) on the command line is one its command documents. */
async function checkFlags(words: string[], where: string): Promise<void> {
  for (const part of words[0] === "npx" ? splitAnd(words) : [words]) {
    const task = taskScript(part);
    if (!task || task.script.length === 0) continue;
    const usage = await usageText(task.script);
    for (const word of part.slice(4)) {
      const flag = /^(--[a-z][a-z0-9-]*|-o)(=.*)?$/.exec(word)?.[1];
      if (!flag || word === "--help") continue;
      // main.ts documents its flags in --help; other scripts declare them as parseArgs options (`name: {`).
      const name = flag.replace(/^-+/, "");
      const declared = new RegExp(`(^|[^a-z0-9-])${flag}(?![a-z0-9-])`).test(usage) ||
        new RegExp(`["']?${name}["']?\\s*:\\s*\\{`).test(usage);
      assert.ok(declared, `${where}: ${flag} is not a flag of "${task.name}"`);
    }
  }
}

function splitAnd(words: string[]): string[][] {
  const parts: string[][] = [[]];
  for (const word of words) word === "&&" ? parts.push([]) : parts[parts.length - 1].push(word);
  return parts;
}

/** Runs a command with a timeout; its stderr then its stdout, as text. */
async function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs = RUN_TIMEOUT_MS,
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const { code, stdout, stderr } = await child.output();
    const text = new TextDecoder();
    return { code, output: text.decode(stderr) + text.decode(stdout) };
  } finally {
    clearTimeout(timer);
  }
}

/** A process left running for the rest of its block (`… &`, or a `ts server` block). */
class Background {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #reader: Promise<void>;
  #stderr = "";
  #exited: number | undefined;

  constructor(command: string, args: string[], cwd: string) {
    const child = new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped", stdin: "null" })
      .spawn();
    this.#child = child;
    child.status.then((status) => this.#exited = status.code);
    this.#reader = Promise.all([
      (async () => {
        let rest = "";
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          rest += chunk;
          const lines = rest.split("\n");
          rest = lines.pop()!;
          this.#lines.push(...lines);
        }
      })(),
      (async () => {
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) this.#stderr += chunk;
      })(),
    ]).then(() => {});
  }

  /**
   * Its first `count` lines of stdout (at least one: the line that says it is ready). A process that exits
   * first fails at once with its stderr; the deadline is generous because a loaded CI machine is slow.
   */
  async firstLines(count: number, where: string): Promise<string[]> {
    const deadline = Date.now() + 30_000;
    while (this.#lines.length < Math.max(count, 1)) {
      const got = `got ${this.#lines.join("|")}; stderr: ${this.#stderr}`;
      assert.equal(
        this.#exited,
        undefined,
        `${where}: exited ${this.#exited} before its ready line (${got})`,
      );
      assert.ok(Date.now() < deadline, `${where}: no ready line within 30 s (${got})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.#lines.slice(0, count);
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#reader.catch(() => {});
  }
}

/** Runs (or, `no-run`, flag-checks) a console/sh block's commands and compares their shown output. */
async function consoleBlock(block: Block, where: string, cwd: string): Promise<void> {
  const noRun = block.flags.includes("no-run");
  const compare = !block.flags.includes("no-output");
  // `ports-as-shown`: addresses that are not sockets (simulate's in-memory link) keep their ports.
  const ports = block.flags.includes("ports-as-shown")
    ? { coap: 5683, coaps: 5684 }
    : { coap: freeUdpPort(), coaps: freeUdpPort() };
  const background: Background[] = [];
  if (!noRun && noOpenSsl !== undefined && block.text.includes("coaps://")) {
    console.warn(`${where}: skipped, coaps:// needs the system OpenSSL 3: ${noOpenSsl}`);
    return;
  }
  try {
    for (const step of steps(block)) {
      const at = `${where}: \`${step.command}\``;
      const { words, background: isBackground } = parseCommand(step.command);
      await checkFlags(words, at);
      if (noRun) continue;
      const task = taskScript(words);
      const expected = trimmedLines(substitutePorts(step.expected.join("\n"), ports));
      let command: string;
      let args: string[];
      if (task) {
        assert.ok(
          task.script[0]?.endsWith("/main.ts"),
          `${at}: only main.ts tasks run; mark the block no-run`,
        );
        command = deno;
        args = [
          "run",
          ...task.flags,
          "-A",
          "--quiet",
          ...task.script,
          ...shellWords(substitutePorts(words.slice(4).join(" "), ports)),
        ];
        if (task.name === "serve") args = withServePorts(args, ports);
      } else {
        // A peer the test task installs with apt (libcoap, tshark): without it, the rest of the block is skipped.
        const program = words[0];
        if (!hasCommand(program)) {
          console.warn(`${at}: skipped with the rest of its block: ${program} is not installed`);
          return;
        }
        command = "bash";
        args = ["-c", substitutePorts(step.command.replace(/\s+#\s.*$/, "").replace(/ &$/, ""), ports)];
      }
      if (isBackground) {
        const process = new Background(command, args, cwd);
        background.push(process);
        const lines = await process.firstLines(expected.length, at);
        if (compare) assertOutput(expected, lines, at);
        continue;
      }
      const result = await run(command, args, cwd);
      if (expected.length === 0) {
        assert.equal(result.code, 0, `${at} exited ${result.code}: ${result.output}`);
      }
      if (compare) assertOutput(expected, trimmedLines(result.output), at);
    }
  } finally {
    for (const process of background.reverse()) await process.stop();
  }
}

/** `serve` on the test's ports: its --port, and --dtls-port when it serves coaps. */
function withServePorts(args: string[], ports: Ports): string[] {
  const result = [...args];
  const set = (flag: string, value: number) => {
    const at = result.indexOf(flag);
    if (at >= 0) result[at + 1] = String(value);
    else result.push(flag, String(value));
  };
  set("--port", ports.coap);
  if (result.some((arg) => arg.startsWith("--psk") || arg === "--cert")) set("--dtls-port", ports.coaps);
  return result;
}

function assertOutput(expected: string[], actual: string[], where: string): void {
  assert.ok(
    outputMatches(expected, actual),
    `${where}: output differs\n--- shown\n${expected.join("\n")}\n--- printed\n${actual.join("\n")}`,
  );
}

/**
 * A user's project outside the repository: the deno.json the README documents, its import of the library
 * pointed at this checkout.
 */
function userProject(dir: string, readme: Block[]): void {
  const documented = readme.find((block) => block.lang === "json" && block.flags.includes("deno.json"));
  assert.ok(documented, "README.md documents a user's deno.json (```json deno.json)");
  const config = JSON.parse(documented.text);
  // The package's own name (deno.json "name"), which also resolves inside this repository: a module that
  // `serve --site` loads imports the library by the same specifier as the user's project does.
  const name = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).name;
  assert.ok(config.imports?.[name], `the documented deno.json maps the import specifier "${name}"`);
  config.imports[name] = `${root}src/mod.ts`;
  Deno.writeTextFileSync(`${dir}/deno.json`, JSON.stringify(config, null, 2));
}

const files = [
  `${root}README.md`,
  ...[...Deno.readDirSync(`${root}docs`)].filter((entry) => entry.name.endsWith(".md")).map((entry) =>
    `${root}docs/${entry.name}`
  ).sort(),
];
const readmeBlocks = fencedBlocks(Deno.readTextFileSync(`${root}README.md`));

for (const file of files) {
  const name = file.slice(root.length);
  Deno.test(`${name}: every code block`, async (t) => {
    const blocks = fencedBlocks(Deno.readTextFileSync(file));
    const dir = await Deno.makeTempDir({ prefix: "deno-coap-docs-" });
    assert.ok(!dir.startsWith(root), "the user's project is outside the repository");
    try {
      userProject(dir, readmeBlocks);
      const tsBlocks = blocks.filter((block) => block.lang === "ts");
      const ports = { coap: freeUdpPort(), coaps: freeUdpPort() };
      tsBlocks.forEach((block, index) => {
        Deno.writeTextFileSync(`${dir}/block_${index}.ts`, substitutePorts(block.text, ports));
      });
      if (tsBlocks.length > 0) {
        await t.step(`deno check of ${tsBlocks.length} ts blocks`, async () => {
          const result = await run(
            deno,
            ["check", "--quiet", ...tsBlocks.map((_, i) => `block_${i}.ts`)],
            dir,
            60_000,
          );
          assert.equal(result.code, 0, result.output);
        });
      }
      let server: Background | undefined;
      for (const [index, block] of blocks.entries()) {
        const where = `${name}:${block.line}`;
        if (block.lang === "ts") {
          const tsIndex = tsBlocks.indexOf(block);
          const permissions = block.flags.filter((flag) => flag.startsWith("--allow-"));
          const granted = block.flags.includes("no-permissions")
            ? []
            : permissions.length > 0
            ? permissions
            : ["--allow-net"];
          const args = ["run", "--quiet", ...granted];
          if (block.flags.includes("no-run")) continue;
          if (granted.includes("--allow-ffi") && noOpenSsl !== undefined) {
            console.warn(`${where}: skipped, DTLS needs the system OpenSSL 3: ${noOpenSsl}`);
            continue;
          }
          if (block.flags.includes("server")) {
            await t.step(`${where} ts server`, async () => {
              server = new Background(deno, [...args, `block_${tsIndex}.ts`], dir);
              await server.firstLines(1, where);
            });
            continue;
          }
          await t.step(`${where} ts`, async () => {
            try {
              const result = await run(deno, [...args, `block_${tsIndex}.ts`], dir);
              assert.equal(result.code, 0, `${where} exited ${result.code}:\n${result.output}`);
            } finally {
              await server?.stop();
              server = undefined;
            }
          });
        } else if (block.lang === "console" || block.lang === "sh") {
          await t.step(
            `${where} ${block.lang} ${block.flags.join(" ")}`,
            () => consoleBlock(block, where, dir),
          );
        } else if (block.lang === "json") {
          await t.step(`${where} json`, () => void JSON.parse(block.text));
        } else {
          assert.ok(
            ["text", "c"].includes(block.lang),
            `${where}: block ${index} has language "${block.lang}"; use ts, console, sh, json, c or text`,
          );
        }
      }
      await server?.stop();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("deno.json names the package as package.json does and exports src/mod.ts", () => {
  const config = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
  const pkg = JSON.parse(Deno.readTextFileSync(`${root}package.json`));
  assert.equal(config.version, pkg.version);
  assert.equal(config.exports, "./src/mod.ts");
  assert.ok(Deno.statSync(`${root}src/mod.ts`).isFile);
  assert.deepEqual(config.unstable, ["net"]);
});
