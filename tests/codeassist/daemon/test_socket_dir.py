"""The socket's directory: created private, tightened when only readable by others, else refused."""

from __future__ import annotations

import stat

import pytest

from codeassist.daemon_files import prepare_socket_dir
from codeassist.errors import UserError


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_directory_is_0700(tmp_path):
    directory = tmp_path / "a" / "codeassist"
    prepare_socket_dir(directory)
    assert mode(directory) == 0o700


def test_own_directory_readable_by_others_is_closed(tmp_path):
    directory = tmp_path / "codeassist"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    prepare_socket_dir(directory)
    assert mode(directory) == 0o700


def test_directory_writable_by_others_is_refused_and_left_alone(tmp_path):
    directory = tmp_path / "codeassist"
    directory.mkdir()
    directory.chmod(0o777)
    with pytest.raises(UserError, match="open to other users.*chmod 700"):
        prepare_socket_dir(directory)
    assert mode(directory) == 0o777
