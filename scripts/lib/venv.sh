# Sourced by the scripts that install tools into project-local venvs (all gitignored).
#
#   ensure_venv VENV STAMP CHECK REQUIREMENT...
#
# Creates VENV with $PYTHON (default python3) if needed and pip-installs the pinned
# REQUIREMENTs, unless the stamp file VENV/.STAMP already records exactly these pins and CHECK
# (a command run with VENV/bin first on PATH) succeeds. Idempotent: a second run only checks.
#
# VENV is a link to a venv in a cache shared by every checkout on the machine, one per set of
# arguments (the pins, and the content of any file they name) and Python version: a fresh clone,
# or CI on a runner that keeps the cache, installs nothing another checkout already installed
# (cfn-lint, the SAM CLI, checkov, cargo-lambda and moto take minutes to install). The cache is
# $PERSONA_ROLE_TOOLS_CACHE, by default ~/.cache/persona-role/venvs (XDG_CACHE_HOME honoured);
# PERSONA_ROLE_TOOLS_CACHE=none keeps every venv in the checkout.

ensure_venv() {
    local venv="$1" cache="${PERSONA_ROLE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/persona-role/venvs}"
    if [[ "$cache" == none ]]; then
        ensure_venv_in_place "$@"
        return
    fi
    local python="${PYTHON:-python3}" arg key base shared
    key="$(
        "$python" -c 'import sys; print(sys.version)'
        printf '%s\n' "${@:2}"
        for arg in "${@:2}"; do
            if [[ -f "$arg" ]]; then cat -- "$arg"; fi
        done
    )"
    key="$(printf '%s' "$key" | sha256sum | cut -c1-16)"
    base="${venv##*/}"
    shared="$cache/${base#.}-$key"
    mkdir -p "$cache"
    # Installed where it stays (its scripts name their interpreter by that path); checkouts that
    # need it at once wait for each other rather than both install.
    (
        flock 9
        ensure_venv_in_place "$shared" "${@:2}"
    ) 9>"$shared.lock"
    if [[ -e "$venv" && ! -L "$venv" ]]; then
        rm -rf "$venv"
    fi
    ln -sfn "$shared" "$venv"
}

ensure_venv_in_place() {
    local venv="$1" stamp="$1/.$2" check="$3"
    shift 3
    local want="$*" python="${PYTHON:-python3}" name="${venv#"${root:-}"/}"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && PATH="$venv/bin:$PATH" bash -c "$check" >/dev/null 2>&1; then
        echo "already installed in $name: $want"
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "creating $name with $("$python" --version 2>&1)"
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    printf '%s' "$want" > "$stamp"
    echo "installed in $name: $want"
}
