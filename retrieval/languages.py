"""Which tree-sitter grammar reads a file: by extension, then by shebang."""

from __future__ import annotations

from functools import cache

from tree_sitter import Language

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".gemspec": "ruby",
}
FILENAMES: dict[str, str] = {"Rakefile": "ruby", "Gemfile": "ruby"}
SHEBANGS: dict[str, str] = {
    "python": "python",
    "python3": "python",
    "node": "javascript",
    "ruby": "ruby",
}


def language_for(path: str, head: bytes | None = None) -> str | None:
    """The language name of `path` (extension first, then a shebang in `head`), or None."""
    name = path.rsplit("/", 1)[-1]
    if name in FILENAMES:
        return FILENAMES[name]
    dot = name.rfind(".")
    if dot > 0:
        lang = EXTENSIONS.get(name[dot:].lower())
        if lang:
            return lang
        return None
    if head and head.startswith(b"#!"):
        line = head.split(b"\n", 1)[0].decode("latin-1")
        parts = line[2:].split()
        if not parts:
            return None
        prog = parts[0].rsplit("/", 1)[-1]
        if prog == "env" and len(parts) > 1:
            prog = next((p for p in parts[1:] if not p.startswith("-")), "")
        prog = prog.rstrip("0123456789.") or prog
        return SHEBANGS.get(prog) or SHEBANGS.get(prog + "3")
    return None


@cache
def grammar(lang: str) -> Language:
    """The tree-sitter Language for a language name (from the installed grammar wheels)."""
    if lang == "python":
        import tree_sitter_python as mod
    elif lang == "javascript":
        import tree_sitter_javascript as mod
    elif lang in ("typescript", "tsx"):
        import tree_sitter_typescript as ts

        return Language(ts.language_tsx() if lang == "tsx" else ts.language_typescript())
    elif lang == "go":
        import tree_sitter_go as mod
    elif lang == "rust":
        import tree_sitter_rust as mod
    elif lang == "java":
        import tree_sitter_java as mod
    elif lang == "c":
        import tree_sitter_c as mod
    elif lang == "cpp":
        import tree_sitter_cpp as mod
    elif lang == "ruby":
        import tree_sitter_ruby as mod
    else:
        raise ValueError(f"no grammar for {lang!r}")
    return Language(mod.language())
