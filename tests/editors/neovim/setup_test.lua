-- Headless checks of setup() that need no server: bad options, a missing executable, git roots.
-- Driven by tests/editors/test_neovim_plugin.py; writes {checks = {name = true | "failure"}}.
local env = vim.env
local result = { checks = {} }
local notes = {}
vim.notify = function(msg, level)
  table.insert(notes, { msg = msg, level = level })
end

local function check(name, fn)
  local ok, err = pcall(fn)
  result.checks[name] = ok and true or tostring(err)
end

vim.opt.runtimepath:prepend(env.CATEST_NVIM_PLUGIN)
local ca = require("codeassist")
local root = require("codeassist.root")
local tmp = env.CATEST_NVIM_TMP

check("bad cmd is refused with a message naming the option", function()
  notes = {}
  assert(ca.setup({ cmd = {} }) == false)
  assert(#notes == 1 and notes[1].msg:find('option "cmd"', 1, true), vim.inspect(notes))
  assert(ca.setup({ cmd = { "codeassist", 3 } }) == false)
  assert(ca.setup({ settings = "daemon" }) == false)
  assert(ca.setup({ on_attach = "x" }) == false)
end)

check("a string cmd means that program with lsp", function()
  local opts = require("codeassist.config").resolve({ cmd = "/opt/ca/bin/codeassist" })
  assert(vim.deep_equal(opts.cmd, { "/opt/ca/bin/codeassist", "lsp" }), vim.inspect(opts.cmd))
end)

check("missing executable: one error with the install command, however many buffers", function()
  notes = {}
  assert(ca.setup({ cmd = { "codeassist-not-installed-here", "lsp" } }) == true)
  assert(ca.setup({ cmd = { "codeassist-not-installed-here", "lsp" } }) == true, "setup twice")
  vim.cmd("edit " .. vim.fn.fnameescape(tmp .. "/repo/a.py"))
  vim.cmd("edit " .. vim.fn.fnameescape(tmp .. "/repo/sub/b.py"))
  local errors = vim.tbl_filter(function(n)
    return n.level == vim.log.levels.ERROR
  end, notes)
  assert(#errors == 1, vim.inspect(notes))
  assert(errors[1].msg:find("pipx install codeassist", 1, true), errors[1].msg)
  assert(errors[1].msg:find("codeassist-not-installed-here", 1, true), errors[1].msg)
end)

check("git root: nested folder, worktree-style .git file, outside a repository", function()
  assert(root.git_root(tmp .. "/repo/sub/b.py") == tmp .. "/repo", root.git_root(tmp .. "/repo/sub/b.py"))
  assert(root.git_root(tmp .. "/worktree/c.py") == tmp .. "/worktree", tostring(root.git_root(tmp .. "/worktree/c.py")))
  assert(root.git_root(tmp .. "/plain/d.py") == nil)
end)

check("commands exist after setup", function()
  local commands = vim.api.nvim_get_commands({})
  for _, name in ipairs({ "CodeassistReview", "CodeassistRefactor", "CodeassistRewrite", "CodeassistStatus" }) do
    assert(commands[name], name)
  end
end)

local f = assert(io.open(env.CATEST_NVIM_OUT, "w"))
f:write(vim.fn.json_encode(result))
f:close()
vim.cmd("qall!")
