// Which process to start for the language server: pure functions, no VS Code API.
import * as path from "path";

/** The settings that decide how the server process is started. */
export interface LaunchSettings {
  executable: string;
  pythonPath: string;
  serverArgs: string[];
}

/** A resolved server process: command, arguments and working directory. */
export interface ServerCommand {
  kind: "found";
  command: string;
  args: string[];
  cwd: string | undefined;
  /** Where the command came from, for the log ("setting codeassist.executable", "PATH"). */
  source: string;
}

/** The server executable could not be found: one message for the user, with the fix. */
export interface MissingServer {
  kind: "missing";
  message: string;
  installCommand: string;
}

export const INSTALL_COMMAND = "pipx install codeassist";
export const EXECUTABLE_NAME = "codeassist";
export const PYTHON_MODULE = "codeassist.cli.main";

/** Environment facts the lookup needs; injected so the lookup is testable. */
export interface LookupEnv {
  pathVar: string | undefined;
  platform: NodeJS.Platform;
  pathExt: string | undefined;
  homeDir: string;
  isExecutableFile: (candidate: string) => boolean;
}

/** Expands a leading `~` to the home directory. */
export function expandHome(p: string, homeDir: string): string {
  if (p === "~") {
    return homeDir;
  }
  if (p.startsWith("~/") || p.startsWith("~\\")) {
    return path.join(homeDir, p.slice(2));
  }
  return p;
}

/** Looks a program name up on PATH (with PATHEXT on Windows); undefined when absent. */
export function findOnPath(name: string, env: LookupEnv): string | undefined {
  const sep = env.platform === "win32" ? ";" : ":";
  const dirs = (env.pathVar ?? "").split(sep).filter((d) => d.length > 0);
  const exts =
    env.platform === "win32"
      ? ["", ...(env.pathExt ?? ".EXE;.CMD;.BAT").split(";").filter((e) => e.length > 0)]
      : [""];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (env.isExecutableFile(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** Resolves a configured program: a path with a separator is taken as is, a bare name via PATH. */
function resolveConfigured(value: string, env: LookupEnv): string | undefined {
  const expanded = expandHome(value.trim(), env.homeDir);
  if (expanded.includes("/") || expanded.includes("\\")) {
    return env.isExecutableFile(expanded) ? expanded : undefined;
  }
  return findOnPath(expanded, env);
}

/**
 * The command that starts `codeassist lsp`.
 *
 * Order: `codeassist.pythonPath` (as `python -m codeassist.cli.main lsp`), then
 * `codeassist.executable`, then `codeassist` on PATH.
 */
export function resolveServerCommand(
  settings: LaunchSettings,
  env: LookupEnv,
  workspaceRoot: string | undefined,
): ServerCommand | MissingServer {
  const extra = settings.serverArgs.filter((a) => a.length > 0);
  const python = settings.pythonPath.trim();
  if (python.length > 0) {
    const found = resolveConfigured(python, env);
    if (found === undefined) {
      return missing(
        `codeassist: the Python interpreter '${python}' from the setting codeassist.pythonPath ` +
          `does not exist or is not executable. Fix the setting, or clear it to use the ` +
          `'codeassist' executable.`,
      );
    }
    return {
      kind: "found",
      command: found,
      args: ["-m", PYTHON_MODULE, "lsp", ...extra],
      cwd: workspaceRoot,
      source: "setting codeassist.pythonPath",
    };
  }
  const executable = settings.executable.trim();
  if (executable.length > 0) {
    const found = resolveConfigured(executable, env);
    if (found === undefined) {
      return missing(
        `codeassist: the executable '${executable}' from the setting codeassist.executable ` +
          `does not exist or is not executable. Fix the setting, or install codeassist ` +
          `with \`${INSTALL_COMMAND}\` and clear the setting.`,
      );
    }
    return {
      kind: "found",
      command: found,
      args: ["lsp", ...extra],
      cwd: workspaceRoot,
      source: "setting codeassist.executable",
    };
  }
  const onPath = findOnPath(EXECUTABLE_NAME, env);
  if (onPath === undefined) {
    return missing(
      `codeassist was not found on PATH. Install it with \`${INSTALL_COMMAND}\`, or set ` +
        `codeassist.executable (or codeassist.pythonPath) to where it is installed.`,
    );
  }
  return { kind: "found", command: onPath, args: ["lsp", ...extra], cwd: workspaceRoot, source: "PATH" };
}

function missing(message: string): MissingServer {
  return { kind: "missing", message, installCommand: INSTALL_COMMAND };
}

/** True when two launch settings start the same process (so a settings change needs no restart). */
export function sameLaunch(a: LaunchSettings, b: LaunchSettings): boolean {
  return (
    a.executable === b.executable &&
    a.pythonPath === b.pythonPath &&
    a.serverArgs.length === b.serverArgs.length &&
    a.serverArgs.every((v, i) => v === b.serverArgs[i])
  );
}
