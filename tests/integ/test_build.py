"""The Makefile's own logic, on a copy of the tree: `make demo` and `make
check` work as the very first command on a machine without the build
packages (pkg-config failing, llhttp's directories empty), because they
install first and only then compute compile flags and look for llhttp; and
plain `make` builds the binaries.

No compiler runs here: a stand-in CC logs each call, checks that the sources
it is given exist and that a link gets pkg-config's libraries, and writes
empty outputs; stand-ins for scripts/install-deps.sh (it "installs" by making
pkg-config and llhttp's files visible), scripts/demo.sh and tests/run.sh log
that they ran. The log then shows the order."""
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

REAL_LLHTTP = "/usr/share/llhttp"
REAL_LLHTTP_INC = "/usr/share/include/llhttp"


def copy_tree(dst):
    """The project's files (tracked and new, not ignored) under dst."""
    root = repo_root()
    try:
        names = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
            check=True, stdout=subprocess.PIPE, timeout=30).stdout
        names = [n for n in names.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        skip("git ls-files failed: cannot list the tree")
    for n in names:
        src = os.path.join(root, n)
        if not os.path.isfile(src) or n.startswith("build/"):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, n)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, n))


def write_script(path, text):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)


FAKE_CC = r'''
log="$RF_BUILD_LOG"
out=""
compile=0
prev=""
for a in "$@"; do
	[ "$prev" = "-o" ] && out="$a"
	[ "$a" = "-c" ] && compile=1
	case "$a" in
	*.c)
		if [ ! -f "$a" ]; then
			echo "fake cc: no source $a" >&2
			echo "cc-missing $a" >> "$log"
			exit 1
		fi ;;
	esac
	prev="$a"
done
if [ $compile = 1 ]; then
	echo "cc $out" >> "$log"
	: > "$out"
	exit 0
fi
case " $* " in
*" -luring "*) ;;
*)	echo "fake cc: link of $out without pkg-config's libraries" >&2
	echo "link-without-libs $out" >> "$log"
	exit 1 ;;
esac
echo "link $out" >> "$log"
printf '#!/bin/sh\nexit 0\n' > "$out"
chmod +x "$out"
'''

FAKE_INSTALL = r'''
echo install >> "$RF_BUILD_LOG"
cp "$RF_REAL_LLHTTP"/*.c "$RF_LLHTTP_DIR"/
cp "$RF_REAL_LLHTTP_INC"/*.h "$RF_LLHTTP_INC"/
printf '#!/bin/sh\nexec /usr/bin/pkg-config "$@"\n' > "$RF_FAKEBIN/pkg-config"
chmod +x "$RF_FAKEBIN/pkg-config"
'''


def fresh_machine(name):
    """A copy of the tree on a "machine" without the packages: returns
    (tree, env, log path, make arguments)."""
    if not (os.path.isdir(REAL_LLHTTP) and os.path.exists("/usr/bin/pkg-config")):
        skip("needs the real llhttp sources and pkg-config to stand in")
    work = scratch_dir(name)
    tree = os.path.join(work, "tree")
    copy_tree(tree)
    fakebin = os.path.join(work, "bin")
    llhttp = os.path.join(work, "llhttp")
    llhttp_inc = os.path.join(work, "llhttp-inc")
    for d in (fakebin, llhttp, llhttp_inc):
        os.makedirs(d)
    log = os.path.join(work, "log")
    write_script(os.path.join(fakebin, "pkg-config"),
                 'echo "pkg-config: not installed" >&2\nexit 127\n')
    write_script(os.path.join(work, "cc"), FAKE_CC)
    write_script(os.path.join(tree, "scripts", "install-deps.sh"),
                 FAKE_INSTALL)
    write_script(os.path.join(tree, "scripts", "demo.sh"),
                 'echo "demo $1" >> "$RF_BUILD_LOG"\n'
                 '[ -x "$1" ] || { echo "demo: no $1" >&2; exit 1; }\n')
    write_script(os.path.join(tree, "tests", "run.sh"),
                 'echo "run-tests $1" >> "$RF_BUILD_LOG"\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAKE") and k not in ("MFLAGS", "CC")}
    env.update(PATH=fakebin + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
               RF_BUILD_LOG=log, RF_FAKEBIN=fakebin, RF_LLHTTP_DIR=llhttp,
               RF_LLHTTP_INC=llhttp_inc, RF_REAL_LLHTTP=REAL_LLHTTP,
               RF_REAL_LLHTTP_INC=REAL_LLHTTP_INC)
    args = ["CC=" + os.path.join(work, "cc"), "LLHTTP_DIR=" + llhttp,
            "LLHTTP_INC=" + llhttp_inc]
    return tree, env, log, args


def run_make(tree, env, args, timeout=240):
    try:
        p = subprocess.run(["make", "-j2"] + args, cwd=tree, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except FileNotFoundError:
        skip("make is not installed")
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def read_log(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [ln.split()[0] for ln in f if ln.strip()]


def check_order(steps, last, err):
    """install first, then compiles and links, then last, exactly once."""
    what = "%s\nmake's stderr:\n%s" % (steps, err[-3000:])
    check(steps and steps[0] == "install", "install-deps ran first: " + what)
    check_eq(steps.count("install"), 1, "install-deps ran once: " + what)
    check("cc" in steps and "link" in steps, "sources were compiled and "
          "linked: " + what)
    check(not any(s in ("cc-missing", "link-without-libs") for s in steps),
          "every compile found its source and every link got pkg-config's "
          "libraries: " + what)
    check_eq(steps[-1], last, "%s ran after the build: %s" % (last, what))


@test("make demo as the first command on a machine without the packages "
      "installs, then builds, then runs the demo", timeout=300)
def _():
    tree, env, log, args = fresh_machine("demo")
    rc, out, err = run_make(tree, env, ["demo"] + args)
    check_eq(rc, 0, "make demo's exit status\n" + err[-3000:])
    check_order(read_log(log), "demo", err)


@test("make check as the first command on a machine without the packages "
      "installs, then builds the ASan variant, then runs the tests",
      timeout=300)
def _():
    tree, env, log, args = fresh_machine("check")
    rc, out, err = run_make(tree, env, ["check"] + args)
    check_eq(rc, 0, "make check's exit status\n" + err[-3000:])
    check_order(read_log(log), "run-tests", err)
    with open(log) as f:
        check_in("run-tests build/asan", f.read(), "the tests ran on build/asan")


@test("plain make (no goal) builds ringfetchd and ringfetch")
def _():
    work = scratch_dir("goal")
    tree = os.path.join(work, "tree")
    copy_tree(tree)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAKE") and k != "MFLAGS"}
    p = subprocess.run(["make", "-n"], cwd=tree, env=env, timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode(errors="replace")
    check_eq(p.returncode, 0, "make -n\n" + p.stderr.decode()[-2000:])
    check("build/rel/ringfetchd" in out,
          "make -n builds build/rel/ringfetchd:\n" + out[-2000:])
    check(re.search(r"build/rel/ringfetch\b(?!d)", out),
          "make -n builds build/rel/ringfetch:\n" + out[-2000:])


main()
