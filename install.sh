#!/usr/bin/env bash
# Set up gdb_sockets: make sure gdb (built with Python) is there, and add
# one line "source <this repo>/gdb_sockets/init.py" to the gdb init file.
# Run ./install.sh --help for the options.  Safe to run again.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./install.sh [--test-deps] [--no-gdbinit]
       ./install.sh --uninstall
       ./install.sh --pyz[=PATH]

Sets up gdb_sockets (the 'info sockets' and 'sock-shutdown' gdb commands):

  1. Makes sure gdb with Python support is installed (as root with apt-get,
     installs Debian's 'gdb'; otherwise says what to run).
  2. Adds one line to your gdb init file (~/.gdbinit, or the
     ~/.config/gdb/gdbinit that gdb reads instead when that one exists):
         source <this repository>/gdb_sockets/init.py
     A line sourcing a gdb_sockets/init.py from another path is replaced.
     Refused while the package could be changed by another user.

Options:
  --test-deps   Also install what the tests need: pytest and pexpect for the
                python3 on PATH (pip), and gdbserver, iproute2, util-linux,
                gcc and golang-go (apt-get), each only if missing; and the
                other gdbs the suite runs against (gdb 16.3, 17.2, 18.1 from
                PyPI's gdb-for-pwndbg, each with its gdbserver), one venv of
                the system's Python each, in /var/cache/gdb_sockets as root,
                else ~/.cache/gdb_sockets ($GDB_SOCKETS_CACHE overrides).
  --no-gdbinit  Do not touch the gdb init file.
  --uninstall   Remove this repository's source line from the gdb init
                file(s), nothing else, and exit.
  --pyz[=PATH]  Only build the command line as one file, gdb-sockets.pyz
                (or PATH): a zipapp of the package for any host's python3
                (3.9 or later), run as 'python3 gdb-sockets.pyz PID --help'.
                The build is reproducible (same tree, same SHA-256).
  -h, --help    Show this help.

Running it again changes nothing that is already in place.
EOF
}

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd -P)
PKG=$REPO/gdb_sockets
INIT=$PKG/init.py
SOURCE_LINE="source $INIT"

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$1" >&2; shift; for l in "$@"; do printf '  %s\n' "$l" >&2; done; exit 1; }

RERUN="./install.sh${*:+ $*}"
TEST_DEPS=0 GDBINIT=1 UNINSTALL=0 PYZ=
for arg in "$@"; do
    case $arg in
        --pyz) PYZ=gdb-sockets.pyz ;;
        --pyz=?*) PYZ=${arg#--pyz=} ;;
        --test-deps) TEST_DEPS=1 ;;
        --no-gdbinit) GDBINIT=0 ;;
        --uninstall) UNINSTALL=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$arg'" "see ./install.sh --help" ;;
    esac
done
if [ "$UNINSTALL" = 1 ] && { [ "$TEST_DEPS" = 1 ] || [ "$GDBINIT" = 0 ]; }; then
    die "--uninstall takes no other option" "run: ./install.sh --uninstall"
fi
case $REPO in *$'\n'*) die "the repository path contains a newline" "move it to a plain path and rerun" ;; esac

# ---------------------------------------------------------------- the single file

# A zipapp as 'python3 -m zipapp' makes them (a #! line, then a zip of the
# package and a __main__.py), written by hand so that the same tree gives
# the same bytes: entries sorted, dates and modes fixed (zipapp takes the
# directory's order and each file's date).
build_pyz() {  # build_pyz OUTPUT
    python3 - "$REPO" "$1" <<'PY'
import hashlib, os, sys, zipfile
repo, output = sys.argv[1], os.path.abspath(sys.argv[2])
main = (b'"""gdb-sockets.pyz: python3 gdb-sockets.pyz --help."""\n'
        b"import sys\nfrom gdb_sockets.cli import main\nsys.exit(main())\n")
found = []
for here, dirs, files in os.walk(os.path.join(repo, "gdb_sockets")):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    found += [os.path.join(here, n) for n in files if n.endswith(".py")]
entries = [("__main__.py", main)]
for path in sorted(found):
    with open(path, "rb") as f:
        entries.append((os.path.relpath(path, repo).replace(os.sep, "/"), f.read()))
partial = os.path.join(os.path.dirname(output), ".%s.partial" % os.path.basename(output))
try:
    with open(partial, "wb") as f:
        f.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(f, "w") as zf:
            for name, data in entries:
                info = zipfile.ZipInfo(name, (2000, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                zf.writestr(info, data)
    os.chmod(partial, 0o755)
    os.replace(partial, output)
finally:
    if os.path.exists(partial):
        os.unlink(partial)
with open(output, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print("%s: %d bytes, sha256 %s" % (output, os.path.getsize(output), digest))
PY
}

if [ -n "$PYZ" ]; then
    if [ "$#" -ne 1 ]; then die "--pyz takes no other option" "run: ./install.sh --pyz[=PATH]"; fi
    command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH" "install Python 3, then rerun $RERUN"
    build_pyz "$PYZ" || die "building $PYZ failed (output above)" "fix the cause, then rerun $RERUN"
    exit 0
fi

LOG=$(mktemp "${TMPDIR:-/tmp}/gdb_sockets-install.XXXXXX")
trap 'rm -f "$LOG"' EXIT

# ---------------------------------------------------------------- packages

is_root() { [ "$(id -u)" -eq 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

# Also look in the sbin directories, which a non-root PATH may lack.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

APT_UPDATED=0
apt_install() {  # apt_install PKG...
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update..."
        if ! DEBIAN_FRONTEND=noninteractive apt-get update -q >"$LOG" 2>&1; then
            tail -n 15 "$LOG" >&2
            die "apt-get update failed (output above)" \
                "fix the package sources or the network, then rerun $RERUN"
        fi
        APT_UPDATED=1
    fi
    say "apt-get install $*..."
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
            >"$LOG" 2>&1 </dev/null; then
        tail -n 15 "$LOG" >&2
        die "apt-get install $* failed (output above)" \
            "fix the cause, or run 'apt-get install $*' yourself, then rerun $RERUN"
    fi
}

# Install the Debian packages named, or say how to when we cannot.
need_packages() {  # need_packages PKG...
    [ $# -gt 0 ] || return 0
    if can_apt; then
        apt_install "$@"
    elif command -v apt-get >/dev/null 2>&1; then
        die "missing: $*" "run: sudo apt-get install $*" "then rerun $RERUN (or run it as root)"
    else
        die "missing: $* (Debian package names)" \
            "install the equivalent packages of your distribution, then rerun $RERUN"
    fi
}

gdb_python_check() {  # gdb_python_check [GDB]: prints its Python version; fails if it has none
    "${1:-gdb}" -nx -batch -ex 'python import sys; print("python-ok", sys.version.split()[0])' \
        </dev/null 2>"$LOG" | sed -n 's/^python-ok //p' | grep .
}

ensure_gdb() {
    local pyver gdb_path
    if ! command -v gdb >/dev/null 2>&1; then
        say "gdb: not found"
        need_packages gdb
        command -v gdb >/dev/null 2>&1 || die "gdb still not on PATH after installing it" \
            "check PATH (Debian's gdb is /usr/bin/gdb), then rerun $RERUN"
    fi
    gdb_path=$(command -v gdb)
    if ! pyver=$(gdb_python_check); then
        say "gdb: $gdb_path cannot run Python:"
        sed 's/^/    /' "$LOG" | head -n 5
        if [ "$gdb_path" != /usr/bin/gdb ] && [ -x /usr/bin/gdb ] && gdb_python_check /usr/bin/gdb >/dev/null; then
            die "$gdb_path comes first on PATH, but /usr/bin/gdb is the one with Python" \
                "remove $gdb_path or put /usr/bin first on PATH, then rerun $RERUN"
        fi
        if [ "$gdb_path" = /usr/bin/gdb ] && dpkg -s gdb >/dev/null 2>&1; then
            # Debian's gdb always has Python: the environment must break it.
            die "Debian's gdb is installed but its Python does not start" \
                "check PYTHONHOME / PYTHONPATH (unset them for gdb), then rerun $RERUN"
        fi
        if can_apt; then
            apt_install gdb
        elif command -v apt-get >/dev/null 2>&1; then
            die "this gdb has no Python: Debian's 'gdb' package has it" \
                "run: sudo apt-get install gdb" "then rerun $RERUN (or run it as root)"
        else
            die "this gdb has no Python" \
                "install a gdb built with Python (--with-python), then rerun $RERUN"
        fi
        pyver=$(gdb_python_check) || die "$gdb_path still cannot run Python" \
            "remove $gdb_path or put /usr/bin (Debian's gdb) first on PATH, then rerun $RERUN"
    fi
    say "gdb: $gdb_path, $(gdb --version </dev/null | head -n 1), Python $pyver"
}

ensure_test_deps() {
    local missing=() mods=() m
    command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH" \
        "install Python 3 (Debian: apt-get install python3 python3-pip), then rerun $RERUN"
    say "python3: $(command -v python3), $(python3 -c 'import sys; print(sys.version.split()[0])')"
    for m in pytest pexpect; do
        python3 -c "import $m" >/dev/null 2>&1 || mods+=("$m")
    done
    if [ ${#mods[@]} -gt 0 ]; then
        say "python3 -m pip install ${mods[*]}..."
        if PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
                "${mods[@]}" >"$LOG" 2>&1 </dev/null; then
            :
        elif grep -q externally-managed "$LOG"; then
            # PEP 668: this python3 belongs to the system; Debian packages it.
            say "pip: $(command -v python3) is managed by the system (PEP 668)"
            if can_apt && [ "$(python3 -c 'import sys; print(sys.prefix)')" = /usr ]; then
                need_packages "${mods[@]/#/python3-}"
            else
                die "pip refuses to install into $(command -v python3)" \
                    "use a virtualenv (python3 -m venv .venv && . .venv/bin/activate)," \
                    "or as root: apt-get install ${mods[*]/#/python3-}; then rerun $RERUN"
            fi
        else
            tail -n 15 "$LOG" >&2
            die "pip install ${mods[*]} failed (output above)" \
                "fix the cause (network? no pip: apt-get install python3-pip), then rerun $RERUN"
        fi
        for m in "${mods[@]}"; do
            python3 -c "import $m" >/dev/null 2>&1 || die "python3 still cannot import $m after installing it" \
                "check which python3 it went to, then rerun $RERUN"
        done
    fi
    say "python3: pytest $(python3 -c 'import pytest; print(pytest.__version__)'), pexpect $(python3 -c 'import pexpect; print(pexpect.__version__)')"

    have gdbserver || missing+=(gdbserver)
    { have ss && have ip; } || missing+=(iproute2)
    { have unshare && have nsenter; } || missing+=(util-linux)
    if ! command -v gcc >/dev/null 2>&1 || ! cc_works; then missing+=(gcc libc6-dev); fi
    have go || missing+=(golang-go)
    if [ ${#missing[@]} -gt 0 ]; then
        say "test tools missing: ${missing[*]}"
        need_packages "${missing[@]}"
        cc_works || die "cc still cannot compile a C program" \
            "install a C compiler and libc headers (Debian: apt-get install gcc libc6-dev), then rerun $RERUN"
    fi
    say "test tools: gdbserver, ss, ip, unshare, nsenter, cc, go: ok"
    ensure_gdb_matrix
}

# The gdbs the suite runs against besides the system's: the newest of the
# 16, 17 and 18 lines of PyPI's gdb-for-pwndbg (each ships its gdbserver).
# tests/gdb/harness.py finds them in the same place (gdb_cache_dir).
GDB_MATRIX=(16.3.0.post6 17.2.0.post5 18.1.0.post1)

gdb_cache_dir() {
    if [ -n "${GDB_SOCKETS_CACHE:-}" ]; then printf '%s\n' "$GDB_SOCKETS_CACHE"
    elif is_root; then printf '%s\n' /var/cache/gdb_sockets
    else printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/gdb_sockets"; fi
}

# A venv of the system's Python (not a pyenv one under /root): the wheel's
# gdb loads that venv's libpython, which every user can then read, so the
# tests that run gdb as another user work too.
ensure_gdb_matrix() {
    local cache version short dir have_version shorts=()
    cache=$(gdb_cache_dir)
    [ -x /usr/bin/python3 ] || need_packages python3
    /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_packages python3-venv
    mkdir -p "$cache"
    for version in "${GDB_MATRIX[@]}"; do
        short=${version%%.post*}; short=${short%.0}
        dir=$cache/gdb-$short
        shorts+=("$short")
        have_version=$("$dir/bin/gdb" --version </dev/null 2>/dev/null | head -n 1 || true)
        if [ "${have_version##* }" != "$short" ] || ! gdb_python_check "$dir/bin/gdb" >/dev/null; then
            say "gdb $short: pip install gdb-for-pwndbg==$version into $dir..."
            rm -rf "$dir"
            if ! { umask 022; /usr/bin/python3 -m venv "$dir" && "$dir/bin/python" -m pip install -q \
                    --disable-pip-version-check "gdb-for-pwndbg==$version"; } >"$LOG" 2>&1 </dev/null; then
                tail -n 15 "$LOG" >&2
                die "installing gdb $short failed (output above)" \
                    "fix the cause (network? PyPI?), then rerun $RERUN"
            fi
            gdb_python_check "$dir/bin/gdb" >/dev/null || die "$dir/bin/gdb does not run Python" \
                "remove $dir and rerun $RERUN"
        fi
        [ -x "$dir/bin/gdbserver" ] || die "$dir has no gdbserver" "remove $dir and rerun $RERUN"
    done
    say "gdbs for the tests: $(command -v gdb), and ${shorts[*]} in $cache"
}

cc_works() {  # compiles and runs a tiny C program with 'cc'
    local dir rc=0
    command -v cc >/dev/null 2>&1 || return 1
    dir=$(mktemp -d "${TMPDIR:-/tmp}/gdb_sockets-cc.XXXXXX")
    printf '#include <sys/socket.h>\nint main(void){return socket(AF_INET,SOCK_STREAM,0)<0;}\n' >"$dir/t.c"
    { cc -o "$dir/t" "$dir/t.c" && "$dir/t"; } >/dev/null 2>&1 || rc=1
    rm -rf "$dir"
    return $rc
}

# ---------------------------------------------------------------- gdb init file

# The file gdb reads at start-up: like gdb (>= 11), the first that exists of
# $XDG_CONFIG_HOME/gdb/gdbinit, ~/.config/gdb/gdbinit, ~/.gdbinit.
init_candidates() {
    if [ -n "${XDG_CONFIG_HOME:-}" ]; then printf '%s\n' "$XDG_CONFIG_HOME/gdb/gdbinit"; fi
    printf '%s\n' "$HOME/.config/gdb/gdbinit" "$HOME/.gdbinit"
}
gdbinit_file() {
    local f
    while IFS= read -r f; do
        if [ -e "$f" ]; then printf '%s\n' "$f"; return; fi
    done < <(init_candidates)
    printf '%s\n' "$HOME/.gdbinit"
}

# Lines 'source .../gdb_sockets/init.py' (any path), and exactly ours.
is_any_line() { [[ $1 =~ ^[[:space:]]*source[[:space:]]+(.*/)?gdb_sockets/init\.py[[:space:]]*$ ]]; }
is_our_line() { [[ $1 =~ ^[[:space:]]*source[[:space:]]+(.*)$ ]] && [ "${BASH_REMATCH[1]%"${BASH_REMATCH[1]##*[![:space:]]}"}" = "$INIT" ]; }

# Replace FILE by the content of TMP, writing through a symlink and keeping
# the file's mode.
replace_file() {  # replace_file FILE TMP
    local target
    target=$(readlink -f "$1")
    if [ -e "$target" ]; then chmod --reference="$target" "$2"; fi
    mv -f "$2" "$target"
}

# shellcheck disable=SC2088  # a literal ~ for display
show() { case $1 in "$HOME"/*) printf '~/%s' "${1#"$HOME"/}" ;; *) printf '%s' "$1" ;; esac; }

# Comment lines install.sh writes above its source line, so that
# --uninstall can undo exactly what it did: put back a line it replaced,
# and remove a file it created once nothing else is in it.
MARK='# gdb_sockets install.sh:'
MARK_CREATED="$MARK created this file; ./install.sh --uninstall removes it when nothing else is in it"
MARK_REPLACED="$MARK replaced: "
is_mark() { [[ $1 == "$MARK"* ]]; }

add_line() {
    local file tmp line other ours=0 others=() placed=0 created=0
    file=$(gdbinit_file)
    if [ "$file" != "$HOME/.gdbinit" ]; then
        say "gdb init file: $(show "$file") (gdb reads it instead of ~/.gdbinit)"
    fi
    if [ -e "$file" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            if is_our_line "$line"; then ours=$((ours + 1))
            elif is_any_line "$line"; then others+=("$line"); fi
        done <"$file"
    else
        created=1
    fi
    if [ "$ours" = 1 ] && [ ${#others[@]} = 0 ]; then
        say "$(show "$file"): already has '$SOURCE_LINE'"
        return
    fi
    mkdir -p "$(dirname "$file")"
    tmp=$(mktemp "$(dirname "$(readlink -f "$file" 2>/dev/null || printf '%s' "$file")")/.gdbinit.XXXXXX")
    if [ "$created" = 1 ]; then printf '%s\n' "$MARK_CREATED" >"$tmp"; fi
    if [ -e "$file" ]; then
        # Keep every other line; put ours where the first gdb_sockets line
        # was, with a note of each line it replaces.
        while IFS= read -r line || [ -n "$line" ]; do
            if is_our_line "$line" || is_any_line "$line"; then
                if [ "$placed" = 0 ]; then
                    for other in ${others[@]+"${others[@]}"}; do printf '%s%s\n' "$MARK_REPLACED" "$other"; done
                    printf '%s\n' "$SOURCE_LINE"; placed=1
                fi
            else
                printf '%s\n' "$line"
            fi
        done <"$file" >>"$tmp"
    fi
    if [ "$placed" = 0 ]; then printf '%s\n' "$SOURCE_LINE" >>"$tmp"; fi
    replace_file "$file" "$tmp"
    for line in ${others[@]+"${others[@]}"}; do
        say "$(show "$file"): replaced '$line' (another copy of gdb_sockets) by '$SOURCE_LINE'"
    done
    if [ "$ours" -gt 1 ]; then say "$(show "$file"): removed $((ours - 1)) duplicate line(s)"; fi
    if [ "$ours" = 0 ] && [ ${#others[@]} = 0 ]; then
        say "$(show "$file"): added '$SOURCE_LINE'"
    fi
}

remove_line() {
    local file tmp line n found=0 created restored
    while IFS= read -r file; do
        [ -f "$file" ] || continue
        n=0
        while IFS= read -r line || [ -n "$line" ]; do
            if is_our_line "$line"; then n=$((n + 1)); fi
        done <"$file"
        [ "$n" -gt 0 ] || continue
        tmp=$(mktemp "$(dirname "$(readlink -f "$file")")/.gdbinit.XXXXXX")
        created=0 restored=()
        while IFS= read -r line || [ -n "$line" ]; do
            if [ "$line" = "$MARK_CREATED" ]; then created=1
            elif [[ $line == "$MARK_REPLACED"* ]]; then
                printf '%s\n' "${line#"$MARK_REPLACED"}"; restored+=("${line#"$MARK_REPLACED"}")
            elif ! is_our_line "$line"; then printf '%s\n' "$line"; fi
        done <"$file" >"$tmp"
        found=1
        if [ "$created" = 1 ] && ! grep -q '[^[:space:]]' "$tmp"; then
            rm -f "$tmp" "$(readlink -f "$file")"
            say "$(show "$file"): removed (install.sh had created it for '$SOURCE_LINE' alone)"
            continue
        fi
        replace_file "$file" "$tmp"
        say "$(show "$file"): removed '$SOURCE_LINE'"
        for line in ${restored[@]+"${restored[@]}"}; do
            say "$(show "$file"): put back '$line' (the line install.sh had replaced)"
        done
    done < <(init_candidates)
    if [ "$found" = 0 ]; then say "no gdb init file sources $INIT: nothing to remove"; fi
}

# gdb often runs as root: refuse to make it load files another user could
# change (init.py refuses too, at every start; this says so up front).
check_trusted() {
    local uid p dir mode bad_pkg=() bad_dirs=() bad_owner=()
    uid=$(id -u)
    [ -f "$INIT" ] || die "$INIT not found" "run ./install.sh from a complete checkout of the repository"
    while IFS= read -r -d '' p; do bad_pkg+=("$p"); done \
        < <(find "$PKG" ! -type l -perm /022 -print0)
    while IFS= read -r -d '' p; do bad_owner+=("$p"); done \
        < <(find "$PKG" ! -type l ! -uid 0 ! -uid "$uid" -print0)
    # The directories above it too, unless sticky (like /tmp).
    dir=$(dirname "$PKG")
    while :; do
        mode=$(stat -c '%a' "$dir")
        if [ $((8#$mode & 8#022)) -ne 0 ] && [ $((8#$mode & 8#1000)) -eq 0 ]; then bad_dirs+=("$dir"); fi
        p=$(stat -c '%u' "$dir")
        if [ "$p" != 0 ] && [ "$p" != "$uid" ]; then bad_owner=("$dir" ${bad_owner[@]+"${bad_owner[@]}"}); fi
        [ "$dir" != / ] || break
        dir=$(dirname "$dir")
    done
    if [ $((${#bad_pkg[@]} + ${#bad_dirs[@]})) -gt 0 ]; then
        local fix=()
        say "writable by group or others (root's gdb would run code they can change):" >&2
        printf '    %s\n' ${bad_pkg[@]+"${bad_pkg[@]:0:5}"} ${bad_dirs[@]+"${bad_dirs[@]}"} >&2
        [ ${#bad_pkg[@]} -le 5 ] || say "    ... and $((${#bad_pkg[@]} - 5)) more in $PKG" >&2
        [ ${#bad_pkg[@]} = 0 ] || fix+=("chmod -R go-w '$PKG'")
        [ ${#bad_dirs[@]} = 0 ] || fix+=("chmod go-w$(printf " '%s'" "${bad_dirs[@]}")")
        die "not adding the source line" "fix with: ${fix[0]}" ${fix[1]+"          ${fix[1]}"} \
            "then rerun $RERUN"
    fi
    if [ ${#bad_owner[@]} -gt 0 ]; then
        say "owned by another user (who could change the code gdb runs):" >&2
        for p in "${bad_owner[@]:0:5}"; do printf '    %s (uid %s)\n' "$p" "$(stat -c %u "$p")" >&2; done
        [ ${#bad_owner[@]} -le 5 ] || say "    ... and $((${#bad_owner[@]} - 5)) more" >&2
        die "not adding the source line" \
            "fix with: chown -R $(id -un) '$PKG' (and chown any directory listed above it)," \
            "or clone the repository somewhere you own and run ./install.sh there"
    fi
}

# ---------------------------------------------------------------- main

if [ "$UNINSTALL" = 1 ] || [ "$GDBINIT" = 1 ]; then
    [ -n "${HOME:-}" ] || die "HOME is not set, so there is no gdb init file to edit" \
        "set HOME, or use --no-gdbinit and load gdb_sockets with: $SOURCE_LINE"
fi
if [ "$UNINSTALL" = 1 ]; then
    remove_line
    exit 0
fi

ensure_gdb
if [ "$TEST_DEPS" = 1 ]; then ensure_test_deps; fi
if [ "$GDBINIT" = 1 ]; then
    check_trusted
    add_line
    # Prove it: a plain gdb (reading the init file) knows the command now.
    if ! gdb -batch -ex 'help info sockets' </dev/null >"$LOG" 2>&1; then
        sed 's/^/    /' "$LOG" | head -n 10 >&2
        die "gdb does not load gdb_sockets from $(show "$(gdbinit_file)") (output above)" \
            "the line is in place: fix what gdb says and rerun $RERUN," \
            "or remove the line with ./install.sh --uninstall"
    fi
    say "check: gdb loads gdb_sockets ('help info sockets' works)"
else
    say "gdb init file: left alone (--no-gdbinit); load by hand with: $SOURCE_LINE"
fi
say "done."
