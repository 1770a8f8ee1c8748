"""Review findings stay on their code as the user types, and vanish when it is edited."""

from __future__ import annotations

from codeassist.tasks.finding_anchors import after_edit, anchor

TEXT = "a = 1\nb = 2\nc = compute()\nd = 4\ne = 5\n"


def lines_of(items):
    return [(i.finding, i.start_line, i.end_line) for i in items]


def findings(text=TEXT):
    return [anchor("on b", 1, 1, text), anchor("on c-d", 2, 3, text), anchor("on e", 4, 4, text)]


def test_lines_added_above_move_findings_down():
    new = "import os\n\n" + TEXT
    assert lines_of(after_edit(findings(), TEXT, new)) == [
        ("on b", 3, 3),
        ("on c-d", 4, 5),
        ("on e", 6, 6),
    ]


def test_typing_inside_a_finding_drops_only_that_one():
    new = TEXT.replace("c = compute()", "c = compute(x)")
    assert lines_of(after_edit(findings(), TEXT, new)) == [("on b", 1, 1), ("on e", 4, 4)]


def test_deleting_lines_between_findings_moves_the_later_ones_up():
    new = TEXT.replace("d = 4\n", "").replace("c = compute()\n", "")
    assert lines_of(after_edit(findings(), TEXT, new)) == [("on b", 1, 1), ("on e", 2, 2)]


def test_line_inserted_right_above_a_finding_keeps_it():
    new = TEXT.replace("b = 2\n", "b = 2\n# note\n")
    assert lines_of(after_edit(findings(), TEXT, new)) == [
        ("on b", 1, 1),
        ("on c-d", 3, 4),
        ("on e", 5, 5),
    ]


def test_typing_on_the_last_line_of_a_finding_drops_it():
    new = TEXT.replace("d = 4", "d = 40")
    assert lines_of(after_edit(findings(), TEXT, new)) == [("on b", 1, 1), ("on e", 4, 4)]


def test_edits_above_and_below_that_keep_the_line_count_above_keep_findings_in_place():
    # One changed region spans the findings (first and last line edited, a line added at the
    # end): the unchanged findings inside it keep their lines, the edited one goes.
    new = TEXT.replace("a = 1", "a = 10").replace("e = 5\n", "e = 50\nf = 6\n")
    assert lines_of(after_edit(findings(), TEXT, new)) == [("on b", 1, 1), ("on c-d", 2, 3)]


def test_anchor_outside_the_document_is_none():
    assert anchor("x", 10, 12, TEXT) is None
