# Sourced by scripts/test and scripts/bench: `ensure_venv [EXTRA]` creates .venv (python3 -m venv)
# if missing and installs the project editable (with the optional EXTRA, e.g. "test") when
# pyproject.toml changed since the last install. A stamp per extra in .venv holds the hash of
# pyproject.toml; an existing venv without a stamp is installed into once.
ensure_venv() {
  local extra="${1:-}"
  local root venv stamp hash spec
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/.venv"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
  fi
  hash="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
  stamp="$venv/.hardnet-stamp${extra:+-$extra}"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]]; then
    spec="$root${extra:+[$extra]}"
    echo "installing hardnet${extra:+[$extra]} into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --quiet --editable "$spec"
    echo "$hash" >"$stamp"
    echo "$hash" >"$venv/.hardnet-stamp" # an install with an extra includes the plain one
  fi
  export PATH="$venv/bin:$PATH"
  cd "$root"
}
