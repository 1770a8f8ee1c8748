"""Refactors in the editor: code actions computed on resolve, rename, rewrite (see feature.py)."""
