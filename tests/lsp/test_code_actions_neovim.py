"""A real headless Neovim (0.7.2 in CI) lists our code actions, resolves one and applies it.

Neovim's own LSP client does the work (start_client, codeAction, codeAction/resolve,
apply_workspace_edit); the model is a recorded endpoint (tests/helpers/openai_endpoint.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.git_repo import GitRepo
from tests.helpers.lsp_client import SERVER_COMMAND
from tests.helpers.openai_endpoint import RecordedModel
from tests.helpers.sample_code import SHAPES

SCRIPT = r"""
local result = {}
local function done(code)
  local f = assert(io.open(vim.env.CA_OUT, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd(code == 0 and "qall!" or ("cquit! " .. code))
end
vim.defer_fn(function() result.fatal = "watchdog"; done(3) end, 150000)

local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(vim.env.CA_FILE))
  local bufnr = vim.api.nvim_get_current_buf()
  local ready = false
  local id = vim.lsp.start_client({
    cmd = vim.fn.json_decode(vim.env.CA_CMD),
    root_dir = vim.env.CA_ROOT,
    init_options = vim.fn.json_decode(vim.env.CA_OPTIONS),
    flags = { debounce_text_changes = 0 },
    on_init = function() ready = true end,
  })
  assert(id, "start_client failed")
  vim.lsp.buf_attach_client(bufnr, id)
  assert(vim.wait(60000, function() return ready end, 50), "the server did not initialize")
  local client = vim.lsp.get_client_by_id(id)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 8, character = 4 }, ["end"] = { line = 9, character = 23 } },
    context = { diagnostics = {} },
  }
  local function simplify()
    local listed = client.request_sync("textDocument/codeAction", params, 30000, bufnr)
    assert(listed and not listed.err, "codeAction failed: " .. vim.inspect(listed))
    local titles, chosen = {}, nil
    for _, action in ipairs(listed.result) do
      table.insert(titles, action.title)
      if action.title == "Simplify" then chosen = action end
    end
    assert(chosen, "no Simplify action among " .. vim.inspect(titles))
    return chosen, titles
  end

  local chosen, titles = simplify()
  result.titles = titles
  result.listed_with_edit = chosen.edit ~= nil
  local resolved = client.request_sync("codeAction/resolve", chosen, 60000, bufnr)
  assert(resolved and not resolved.err, "resolve failed: " .. vim.inspect(resolved))
  vim.lsp.util.apply_workspace_edit(resolved.result.edit, client.offset_encoding or "utf-16")
  result.after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)

  -- Listed, then the user types before picking it: the server refuses the old version.
  local again = simplify()
  vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { "# typed" })
  vim.wait(300)
  local stale = client.request_sync("codeAction/resolve", again, 60000, bufnr)
  result.stale_error = (stale and stale.err and stale.err.message) or vim.NIL
  result.final = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end)
if not ok then result.error = tostring(err) end
done(ok and 0 or 1)
"""


@pytest.fixture(scope="module")
def nvim() -> str:
    path = shutil.which("nvim")
    assert path, "Neovim is required for this test: apt-get install -y neovim"
    return path


def test_neovim_lists_resolves_and_applies_a_refactor(nvim, tmp_path: Path):
    root = GitRepo(tmp_path / "repo").root
    (root / "shapes.py").write_text(SHAPES)
    (tmp_path / "test.lua").write_text(SCRIPT)
    out = tmp_path / "result.json"
    model = RecordedModel(completion="total = (width + height) * 2\n```\n")
    try:
        env = dict(os.environ)
        env.update(
            {
                "CA_OUT": str(out),
                "CA_FILE": str(root / "shapes.py"),
                "CA_ROOT": str(root),
                "CA_CMD": json.dumps(SERVER_COMMAND),
                "CA_OPTIONS": json.dumps({"model": {"endpoint": model.url, "name": "recorded"}}),
            }
        )
        proc = subprocess.run(
            [nvim, "--headless", "--clean", "-u", str(tmp_path / "test.lua")],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=200,
            stdin=subprocess.DEVNULL,
        )
    finally:
        model.close()
    assert out.is_file(), f"Neovim wrote no result ({proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(out.read_text())
    assert "error" not in result and "fatal" not in result, result
    assert {"Simplify", "Extract function", "Add docstring", "Review selection"} <= set(
        result["titles"]
    )
    assert result["listed_with_edit"] is False  # the model runs only on resolve
    expected = SHAPES.replace(
        "    total = width + height\n    total = total * 2\n", "    total = (width + height) * 2\n"
    )
    assert "\n".join(result["after"]) + "\n" == expected
    assert "changed" in result["stale_error"], result
    assert result["final"] == ["# typed", *expected.splitlines()]
    assert len(model.requests) == 1  # the refused resolve never reached the model
    assert proc.returncode == 0
