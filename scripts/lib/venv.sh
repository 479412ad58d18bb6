# Sourced by the scripts that install tools into project-local venvs (all gitignored).
#
#   ensure_venv VENV CHECK REQUIREMENTS
#
# Creates VENV with $PYTHON (default python3) and installs exactly the packages REQUIREMENTS
# (a file under scripts/requirements/) pins, dependencies included: `pip install --no-deps`, so
# that nothing unpinned comes in, then `pip check`, so that a pin missing from the file fails
# here rather than in a test. Idempotent: when VENV/.persona-role-requirements already holds the
# same file and CHECK (a command run with VENV/bin first on PATH) succeeds, it only says so.
# When the pins change, the venv is made again from nothing, so that no old package lingers.
#
# Every venv lives in the checkout: nothing is cached outside it.
#
#   require_python
#
# Fails, saying what to install, unless $PYTHON (default python3) can make venvs with pip
# (Debian and Ubuntu ship the venv module apart, as python3-venv).

require_python() {
    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "missing: $python (Python 3.10 or newer; set PYTHON to use another)" >&2
        return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "missing: Python 3.10 or newer ($python is $("$python" --version 2>&1))" >&2
        return 1
    fi
    if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
        echo "missing: Python's venv module with ensurepip (Debian/Ubuntu: apt-get install python3-venv)" >&2
        return 1
    fi
}

ensure_venv() {
    local venv="$1" check="$2" requirements="$3"
    local stamp="$venv/.persona-role-requirements" python="${PYTHON:-python3}"
    local name="${venv#"${root:-}"/}"
    if [[ ! -f "$requirements" ]]; then
        echo "ensure_venv: no requirements file $requirements" >&2
        return 1
    fi
    if [[ -x "$venv/bin/python" ]] && cmp -s "$requirements" "$stamp" \
        && PATH="$venv/bin:$PATH" bash -c "$check" >/dev/null 2>&1; then
        echo "already installed in $name: $(pins "$requirements")"
        return 0
    fi
    require_python
    if [[ -e "$venv" || -L "$venv" ]]; then
        echo "making $name again for $(basename "$requirements")'s pins"
        rm -rf "$venv"
    fi
    echo "creating $name with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --requirement "$requirements"
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null \
        || { "$venv/bin/python" -m pip check; echo "$requirements lacks a pin (above)" >&2; return 1; }
    if ! PATH="$venv/bin:$PATH" bash -c "$check" >/dev/null; then
        echo "installed $name, but \`$check\` fails" >&2
        return 1
    fi
    cp "$requirements" "$stamp"
    echo "installed in $name: $(pins "$requirements")"
}

# The file's top-level pins (its `# top:` line).
pins() {
    sed -n 's/^# top: //p' "$1"
}
