"""Tasks: plain inputs in, plain results out (completion, review, refactor); no LSP, no HTTP."""
