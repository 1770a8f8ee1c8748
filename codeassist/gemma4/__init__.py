"""Everything that knows Gemma 4's prompt format, tokens and configs."""
