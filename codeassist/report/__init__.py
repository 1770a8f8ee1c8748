"""Review results for people (text) and for tools (json, SARIF 2.1.0, reviewdog rdjsonl)."""

from codeassist.report.json_report import to_json
from codeassist.report.rdjsonl import to_rdjsonl
from codeassist.report.sarif import to_sarif
from codeassist.report.text import print_text

MACHINE_FORMATS = {"json": to_json, "sarif": to_sarif, "rdjsonl": to_rdjsonl}
FORMATS = ("text", *MACHINE_FORMATS)

__all__ = ["FORMATS", "MACHINE_FORMATS", "print_text", "to_json", "to_rdjsonl", "to_sarif"]
