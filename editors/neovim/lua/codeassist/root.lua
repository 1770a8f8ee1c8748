-- The directory the server runs in for a buffer: the git root of its file.
local M = {}

--- The git root above path (a file or directory), or nil outside a repository.
function M.git_root(path)
  if path == nil or path == "" then
    return nil
  end
  local dir = vim.fn.isdirectory(path) == 1 and path or vim.fn.fnamemodify(path, ":p:h")
  -- .git is a directory in a normal clone and a file in a worktree or submodule.
  local marker = vim.fn.finddir(".git", dir .. ";")
  if marker == "" then
    marker = vim.fn.findfile(".git", dir .. ";")
  end
  if marker == "" then
    return nil
  end
  -- strip a trailing slash, then the ".git" component itself
  local full = vim.fn.fnamemodify(marker, ":p"):gsub("/$", "")
  return (vim.fn.fnamemodify(full, ":h"))
end

--- The root for a buffer: its git root, else its file's directory; nil for unnamed buffers.
function M.for_buffer(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or name:match("^%a[%w+.-]*://") then
    return nil
  end
  local full = vim.fn.fnamemodify(name, ":p")
  return M.git_root(full) or vim.fn.fnamemodify(full, ":h")
end

return M
