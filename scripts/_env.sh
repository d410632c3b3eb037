# Sourced by scripts/test and scripts/bench: `ensure_venv [EXTRA]` creates .venv (python3 -m venv)
# if missing and installs the project into it when its inputs changed since the last install.
#
# Installs come from the lockfile of this Python (locks/py3.X.txt, or locks/py3.X-test.txt when
# EXTRA is given: the test and ray extras), pinned versions with hashes (`pip install
# --require-hashes`), then hardnet itself without dependencies. HARDNET_NO_LOCK=1, or a Python
# without a lockfile, installs from pyproject.toml's ranges instead (a warning says so).
# HARDNET_ACCELERATOR=cuda12 installs jax with its CUDA 12 plugin from locks/py3.X-cuda12.txt
# instead (Python 3.12; an error naming the lockfiles where this Python has none), for
# `scripts/bench` on a GPU node. `scripts/lock` refreshes the lockfiles. The lock used (path and sha256) is exported as
# HARDNET_LOCK and recorded in each run's meta.json.
ensure_venv() {
  local extra="${1:-}"
  local root venv stamp hash spec pyver lock
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/.venv"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
  fi
  pyver="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  lock="$root/locks/py$pyver${extra:+-test}.txt"
  if [[ -n "${HARDNET_ACCELERATOR:-}" && "${HARDNET_ACCELERATOR}" != cpu ]]; then
    lock="$root/locks/py$pyver-${HARDNET_ACCELERATOR/#cuda/cuda12}.txt"
    [[ "$HARDNET_ACCELERATOR" == cuda1* ]] && lock="$root/locks/py$pyver-$HARDNET_ACCELERATOR.txt"
    if [[ ! -f "$lock" ]]; then
      echo "error: HARDNET_ACCELERATOR=$HARDNET_ACCELERATOR: no lockfile ${lock#"$root"/} for Python $pyver (locks/: $(ls "$root/locks" | tr '\n' ' '))" >&2
      return 2
    fi
  fi
  if [[ -n "${HARDNET_NO_LOCK:-}" || ! -f "$lock" ]]; then
    [[ -f "$lock" ]] || echo "warning: no lockfile $lock; installing from pyproject.toml ranges" >&2
    lock=""
  fi
  hash="$(cat "$root/pyproject.toml" ${lock:+"$lock"} | sha256sum | cut -d' ' -f1)"
  stamp="$venv/.hardnet-stamp${extra:+-$extra}"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]]; then
    spec="$root${extra:+[$extra]}"
    echo "installing hardnet${extra:+[$extra]} into $venv${lock:+ from ${lock#"$root"/}}" >&2
    if [[ -n "$lock" ]]; then
      "$venv/bin/python" -m pip install --quiet --quiet --require-hashes -r "$lock"
      "$venv/bin/python" -m pip install --quiet --quiet --no-deps --editable "$spec"
    else
      "$venv/bin/python" -m pip install --quiet --quiet --editable "$spec"
    fi
    echo "$hash" >"$stamp"
  fi
  if [[ -n "$lock" ]]; then
    export HARDNET_LOCK="${lock#"$root"/} sha256:$(sha256sum "$lock" | cut -d' ' -f1)"
  fi
  export PATH="$venv/bin:$PATH"
  cd "$root"
}

# `ensure_examples`: the frameworks of the outside-learner examples (locks/examples.txt: PyTorch's
# CPU build and scikit-learn) in .venv, once per change of that file; prints the seconds it took.
ensure_examples() {
  local root stamp hash start
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  stamp="$root/.venv/.hardnet-stamp-examples"
  hash="$(sha256sum "$root/locks/examples.txt" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]]; then
    start=$SECONDS
    "$root/.venv/bin/python" -m pip install --quiet --quiet -r "$root/locks/examples.txt"
    echo "$hash" >"$stamp"
    echo "installed locks/examples.txt (torch CPU, scikit-learn) in $((SECONDS - start)) s" >&2
  fi
}
