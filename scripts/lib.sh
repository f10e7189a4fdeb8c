# Shared set-up for kefu's scripts: caches outside the clone, the web build, required services.
# Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kefu-target}"
export npm_config_cache="${npm_config_cache:-$HOME/.cache/kefu-npm}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '\n== %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  # Installs Debian packages only when a listed command is missing.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_web() {
  command -v npm >/dev/null || apt_install nodejs npm
  log "web: npm ci + build"
  (cd "$ROOT/web" && npm ci --no-audit --no-fund --prefer-offline && npm run build)
}

ensure_postgres() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    log "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null
}
