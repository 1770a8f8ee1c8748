"""Unified diff hunks with both sides' line numbers, and whole-range hunks for editor reviews."""

from __future__ import annotations

from codeassist.git.unified import hunks_for_ranges, parse_hunks

SECTION = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -3 +3,2 @@ def main():
-    return 1
+    total = 2
+    return total
\\ No newline at end of file
@@ -10,2 +11 @@
 keep = True
-gone = False
"""


def test_hunk_counts_default_to_one_and_lines_carry_both_sides_numbers():
    first, second = parse_hunks(SECTION)
    assert (first.old_start, first.old_count, first.new_start, first.new_count) == (3, 1, 3, 2)
    assert first.header == "def main():"
    assert [(d.kind, d.old_line, d.new_line) for d in first.lines] == [
        ("-", 3, None),
        ("+", None, 3),
        ("+", None, 4),
    ]
    assert (second.old_count, second.new_count) == (2, 1)
    assert [(d.kind, d.text, d.old_line, d.new_line) for d in second.lines] == [
        (" ", "keep = True", 10, 11),
        ("-", "gone = False", 11, None),
    ]


def test_ranges_are_clamped_to_the_file_and_empty_ones_dropped():
    lines = ["a", "b", "c"]
    (hunk,) = hunks_for_ranges(lines, [(2, 9), (7, 8)])
    assert (hunk.new_start, hunk.new_count) == (2, 2)
    assert [(d.text, d.new_line) for d in hunk.lines] == [("b", 2), ("c", 3)]
    assert hunks_for_ranges(lines, [(0, 1)])[0].lines[0].new_line == 1
