# Sourced by the scripts that install tools into project-local venvs (all gitignored).
#
#   ensure_venv VENV STAMP CHECK REQUIREMENT...
#
# Makes VENV a venv of $PYTHON (default python3) with exactly the pinned REQUIREMENTs, checked
# by CHECK (a command run with VENV/bin first on PATH). Idempotent: a second run only checks.
#
# The venv itself lives in a cache shared by every checkout on the machine, one per set of pins
# and Python version, and VENV is a link to it: a fresh clone, or CI on a runner that keeps
# the cache, installs nothing that another checkout already installed (installing cfn-lint,
# the SAM CLI, checkov, cargo-lambda and moto takes minutes). The cache is
# $PERSONA_ROLE_TOOLS_CACHE, by default ~/.cache/persona-role/venvs (XDG_CACHE_HOME honoured);
# PERSONA_ROLE_TOOLS_CACHE=none keeps each venv in the checkout. A VENV that is a directory of
# its own with the same pins (made before the cache existed) is used as it is.

ensure_venv() {
    local venv="$1" stamp_name=".$2" check="$3"
    shift 3
    local want="$*" python="${PYTHON:-python3}" name="${venv#"${root:-}"/}"
    if [[ -x "$venv/bin/python" && -f "$venv/$stamp_name" && "$(cat "$venv/$stamp_name")" == "$want" ]] \
        && PATH="$venv/bin:$PATH" bash -c "$check" >/dev/null 2>&1; then
        echo "already installed in $name: $want"
        return 0
    fi
    local cache="${PERSONA_ROLE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/persona-role/venvs}"
    if [[ "$cache" == none ]]; then
        install_venv "$venv" "$stamp_name" "$python" "$name" "$@"
        return
    fi
    # One shared venv per pins (and the files they name, such as `-r requirements.txt`) and
    # interpreter, so that a change of any never reuses it.
    local key arg
    key="$(
        printf '%s\n%s\n' "$want" "$("$python" -c 'import sys; print(sys.version)')"
        for arg in "$@"; do
            if [[ -f "$arg" ]]; then cat -- "$arg"; fi
        done
    )"
    key="$(printf '%s' "$key" | sha256sum | cut -c1-16)"
    local base="${venv##*/}"
    local shared="$cache/${base#.}-$key"
    mkdir -p "$cache"
    # Checkouts that install the same venv at once wait for each other rather than both install.
    (
        flock 9
        if [[ ! -x "$shared/bin/python" || ! -f "$shared/$stamp_name" ]] \
            || ! PATH="$shared/bin:$PATH" bash -c "$check" >/dev/null 2>&1; then
            rm -rf "$shared"
            install_venv "$shared" "$stamp_name" "$python" "$name (shared: $shared)" "$@"
        fi
    ) 9>"$shared.lock"
    if [[ -e "$venv" && ! -L "$venv" ]]; then
        rm -rf "$venv"
    fi
    ln -sfn "$shared" "$venv"
    echo "installed in $name: $want (shared: $shared)"
}

# install_venv DIR STAMP_NAME PYTHON NAME REQUIREMENT...: creates DIR and pip-installs into it.
install_venv() {
    local dir="$1" stamp_name="$2" python="$3" name="$4"
    shift 4
    if [[ ! -x "$dir/bin/python" ]]; then
        echo "creating $name with $("$python" --version 2>&1)"
        "$python" -m venv "$dir"
    fi
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    printf '%s' "$*" > "$dir/$stamp_name"
}
