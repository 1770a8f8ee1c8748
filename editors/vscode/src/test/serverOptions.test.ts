import { strict as assert } from "node:assert";
import * as path from "node:path";
import { test } from "node:test";

import { INSTALL_COMMAND, LookupEnv, expandHome, findOnPath, resolveServerCommand, sameLaunch } from "../serverOptions";

function env(files: string[], pathVar: string, platform: NodeJS.Platform = "linux"): LookupEnv {
  const present = new Set(files);
  return { pathVar, platform, pathExt: undefined, homeDir: "/home/u", isExecutableFile: (p) => present.has(p) };
}

const none = { executable: "", pythonPath: "", serverArgs: [] };

test("codeassist on PATH: first PATH entry that has it wins", () => {
  const cmd = resolveServerCommand(none, env(["/b/codeassist", "/c/codeassist"], "/a:/b:/c"), "/repo");
  assert.deepEqual(cmd, { kind: "found", command: "/b/codeassist", args: ["lsp"], cwd: "/repo", source: "PATH" });
});

test("missing everywhere: one message that names the install command and the setting", () => {
  const cmd = resolveServerCommand(none, env([], "/a:/b"), undefined);
  assert.equal(cmd.kind, "missing");
  if (cmd.kind === "missing") {
    assert.equal(cmd.installCommand, INSTALL_COMMAND);
    assert.match(cmd.message, /not found on PATH/);
    assert.ok(cmd.message.includes(INSTALL_COMMAND));
    assert.match(cmd.message, /codeassist\.executable/);
  }
});

test("executable setting with a path is used as is, with extra args after lsp", () => {
  const settings = { executable: "~/venv/bin/codeassist", pythonPath: "", serverArgs: ["--tcp", "", "127.0.0.1:2087"] };
  const cmd = resolveServerCommand(settings, env(["/home/u/venv/bin/codeassist"], ""), "/repo");
  assert.equal(cmd.kind, "found");
  if (cmd.kind === "found") {
    assert.equal(cmd.command, "/home/u/venv/bin/codeassist");
    assert.deepEqual(cmd.args, ["lsp", "--tcp", "127.0.0.1:2087"]);
    assert.equal(cmd.source, "setting codeassist.executable");
  }
});

test("executable setting that does not exist: message names the setting, PATH is not used instead", () => {
  const settings = { executable: "/nope/codeassist", pythonPath: "", serverArgs: [] };
  const cmd = resolveServerCommand(settings, env(["/usr/bin/codeassist"], "/usr/bin"), "/repo");
  assert.equal(cmd.kind, "missing");
  if (cmd.kind === "missing") {
    assert.match(cmd.message, /'\/nope\/codeassist' from the setting codeassist\.executable/);
  }
});

test("python path wins over the executable and runs the CLI module", () => {
  const settings = { executable: "/x/codeassist", pythonPath: "/venv/bin/python", serverArgs: [] };
  const cmd = resolveServerCommand(settings, env(["/x/codeassist", "/venv/bin/python"], ""), "/repo");
  assert.equal(cmd.kind, "found");
  if (cmd.kind === "found") {
    assert.equal(cmd.command, "/venv/bin/python");
    assert.deepEqual(cmd.args, ["-m", "codeassist.cli.main", "lsp"]);
  }
});

test("a bare python name is looked up on PATH", () => {
  const settings = { executable: "", pythonPath: "python3", serverArgs: [] };
  const cmd = resolveServerCommand(settings, env(["/usr/bin/python3"], "/usr/local/bin:/usr/bin"), undefined);
  assert.equal(cmd.kind, "found");
  if (cmd.kind === "found") {
    assert.equal(cmd.command, "/usr/bin/python3");
  }
});

test("bad python path: message names the setting", () => {
  const cmd = resolveServerCommand({ executable: "", pythonPath: "/nope/python", serverArgs: [] }, env([], ""), undefined);
  assert.equal(cmd.kind, "missing");
  if (cmd.kind === "missing") {
    assert.match(cmd.message, /codeassist\.pythonPath/);
  }
});

test("Windows: PATHEXT extensions are tried", () => {
  const e = { ...env([path.join("C:\\tools", "codeassist.EXE")], "C:\\tools", "win32"), pathExt: ".COM;.EXE" };
  assert.equal(findOnPath("codeassist", e), path.join("C:\\tools", "codeassist.EXE"));
});

test("home expansion only for a leading tilde", () => {
  assert.equal(expandHome("~", "/h"), "/h");
  assert.equal(expandHome("~/bin/x", "/h"), path.join("/h", "bin/x"));
  assert.equal(expandHome("/a/~/b", "/h"), "/a/~/b");
});

test("sameLaunch compares everything that changes the process", () => {
  assert.ok(sameLaunch(none, { executable: "", pythonPath: "", serverArgs: [] }));
  assert.ok(!sameLaunch(none, { executable: "x", pythonPath: "", serverArgs: [] }));
  assert.ok(!sameLaunch(none, { executable: "", pythonPath: "", serverArgs: ["--x"] }));
  assert.ok(!sameLaunch({ ...none, serverArgs: ["a"] }, { ...none, serverArgs: ["b"] }));
});
