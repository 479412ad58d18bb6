# Sourced by the scripts that install tools into project-local venvs (all gitignored).
#
#   ensure_venv VENV STAMP CHECK REQUIREMENT...
#
# Creates VENV with $PYTHON (default python3) if needed and pip-installs the pinned
# REQUIREMENTs, unless the stamp file VENV/.STAMP already records exactly these pins and CHECK
# (a command run with VENV/bin first on PATH) succeeds. Idempotent: a second run only checks.

ensure_venv() {
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
