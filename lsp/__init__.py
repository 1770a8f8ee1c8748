"""The language server: editor protocol <-> codeassist tasks (pygls)."""
