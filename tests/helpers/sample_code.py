"""Small source files more than one test folder opens in an editor or reviews."""

# shapes.py: line 8 (0-based) holds `total = width + height`, line 9 `total = total * 2`.
SHAPES = '''\
"""Shapes."""


def area(width, height):
    return width * height


def perimeter(width, height):
    total = width + height
    total = total * 2
    return total
'''

# uses.py: imports and calls perimeter from shapes.py.
USES = "from shapes import perimeter\n\nprint(perimeter(1, 2))\n"

# pkg/app.py and pkg/util.py of the language-server workspace.
APP_PY = '''import os


def size(path):
    """Bytes in a file."""
    return os.path.getsize(path)


def describe(path):
    total = size(path)
    return f"{path}: {total}"
'''

UTIL_PY = """def helper(value):
    return value * 2


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count
"""
