"""Review in the editor: commands, findings as diagnostics, quick fixes (see feature.py)."""
