#!/usr/bin/env bash
# Build the frozen one-folder app (dist/steerdesk/) with PyInstaller, then check it:
# --version, --help, `generate` on tiny models of six families, and a screenshot of the main
# window taken offscreen by the frozen binary (the pocket pack if it is in the tree, else a
# tiny model), checked to be a real, non-blank PNG.
#
#   bash packaging/build.sh
#
# Environment (all optional):
#   PYTHON                 the Python that makes the venv (default python3; 3.10+)
#   STEERDESK_BUILD_VENV   the venv (default build/venv). It is made with
#                          --system-site-packages, so a torch already installed there is reused.
#   STEERDESK_TORCH        the torch requirement installed when the venv has no torch
#                          (default torch==2.13.0, as .ci/run)
#   STEERDESK_TORCH_INDEX  extra pip index for it, e.g. https://download.pytorch.org/whl/cpu
#                          for the CPU build where PyPI's default torch is the CUDA one
#   STEERDESK_SCREENSHOT   where to write the frozen app's screenshot
#                          (default build/frozen-check/screenshot.png)
#   STEERDESK_CLEAN=1      rebuild from scratch (PyInstaller --clean)
#   STEERDESK_CHECK_ONLY=1 skip PyInstaller, only check the dist/steerdesk already there
# Output: dist/steerdesk/steerdesk (+ dist/steerdesk/_internal/); the last lines say how long
# the build took and how big the folder is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
VENV=${STEERDESK_BUILD_VENV:-build/venv}
CHECK=build/frozen-check
SHOT=${STEERDESK_SCREENSHOT:-$CHECK/screenshot.png}
export PIP_DISABLE_PIP_VERSION_CHECK=1
t0=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

say "venv $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi
PY=$ROOT/$VENV/bin/python
[ -x "$PY" ] || PY=$VENV/bin/python

say "torch"
if ! "$PY" -c "import torch" 2>/dev/null; then
    # Pinned: an unpinned torch on Linux can pull several GB of CUDA packages.
    "$PY" -m pip install -q ${STEERDESK_TORCH_INDEX:+--extra-index-url "$STEERDESK_TORCH_INDEX"} \
        "${STEERDESK_TORCH:-torch==2.13.0}"
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"
if "$PY" -c "import sys, torch; sys.exit(0 if torch.version.cuda else 1)"; then
    echo "build.sh: this torch is a CUDA build: its CUDA libraries (several GB) will be bundled;" \
         "see packaging/NOTES.md for the CPU build" >&2
fi

say "steerdesk's dependencies and PyInstaller"
# The dependencies only: PyInstaller analyses steerdesk from this source tree (the spec puts
# it first on sys.path), so nothing is installed in editable mode from here.
mkdir -p "$CHECK"
"$PY" - > "$CHECK/requirements.txt" <<'PYEOF'
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
deps = [d for d in project["dependencies"] if not d.startswith("torch")]
print("\n".join(deps + project["optional-dependencies"]["package"]))
PYEOF
"$PY" -m pip install -q -r "$CHECK/requirements.txt"

# The subcommands the app is built with, for the --help check (read before the build, as
# the build reads the sources).
subs=$("$PY" -c "import sys; sys.path.insert(0, '.'); from steerdesk.cli.main import SUBCOMMANDS; print(*SUBCOMMANDS)")

say "PyInstaller"
t_pyi=$(date +%s)
if [ -n "${STEERDESK_CHECK_ONLY:-}" ]; then
    echo "STEERDESK_CHECK_ONLY: checking the existing dist/steerdesk"
else
    "$PY" -m PyInstaller --noconfirm ${STEERDESK_CLEAN:+--clean} --log-level ERROR \
        --distpath dist --workpath build/pyinstaller packaging/steerdesk.spec
fi
pyi_s=$(( $(date +%s) - t_pyi ))
APP=dist/steerdesk/steerdesk
[ -x "$APP" ] || { echo "build.sh: $APP was not made" >&2; exit 1; }

# The checks run the frozen app from another folder, with its own settings folder (so no
# remembered session is reopened) and no network.
export STEERDESK_CONFIG_DIR=$ROOT/$CHECK/config HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export QT_QPA_PLATFORM=offscreen HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error
rm -rf "$STEERDESK_CONFIG_DIR"
cd "$CHECK"
APP=$ROOT/$APP

say "check: --version and --help"
want="steerdesk $("$PY" -c "import sys; sys.path.insert(0, '$ROOT'); import steerdesk; print(steerdesk.__version__)")"
got=$("$APP" --version)
[ "$got" = "$want" ] || { echo "build.sh: --version said '$got', not '$want'" >&2; exit 1; }
"$APP" --help > help.txt
for sub in $subs; do
    grep -Eq "^    $sub( |\$)" help.txt || { echo "build.sh: --help does not list $sub" >&2; cat help.txt; exit 1; }
    "$APP" "$sub" --help > /dev/null
done
echo "$got; --help lists the subcommands"

say "check: generate on tiny models (every family's modules are bundled)"
rm -rf tiny
"$PY" "$ROOT/packaging/check_frozen.py" tiny tiny > /dev/null
for family in $(ls tiny); do
    "$APP" generate --model "tiny/$family/model" --sae "tiny/$family/sae" --prompt "hello world" \
        --steer 3=4 --max-new-tokens 4 --device cpu --json > "gen-$family.json"
    "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d, 'empty'" "gen-$family.json"
    echo "  $family: ok"
done

say "check: screenshot of the main window"
if [ -f "$ROOT/steerdesk/resources/pocket/model/config.json" ] && \
   [ -f "$ROOT/steerdesk/resources/pocket/sae/cfg.json" ]; then
    pair=()
    echo "  on the pocket pack"
    # With the pack's first preset (by file name), so the picture shows steering, and the
    # pack's presets are known to be bundled (the app finds it by name beside the SAE).
    first=$(ls "$ROOT"/steerdesk/resources/pocket/presets/*.json 2>/dev/null | head -1)
    if [ -n "$first" ]; then
        name=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['name'])" "$first")
        pair=(--preset "$name")
        echo "  with the preset '$name'"
    fi
else
    pair=(--model tiny/llama/model --sae tiny/llama/sae)
    echo "  no pocket pack in the tree yet: on a tiny llama"
fi
case $SHOT in /*) ;; *) SHOT=$ROOT/$SHOT ;; esac
mkdir -p "$(dirname "$SHOT")"
rm -f "$SHOT"
t_shot=$(date +%s)
"$APP" --screenshot "$SHOT" "${pair[@]}"
shot_s=$(( $(date +%s) - t_shot ))
"$PY" "$ROOT/packaging/check_frozen.py" png "$SHOT"

cd "$ROOT"
size=$(du -sh dist/steerdesk | cut -f1)
files=$(find dist/steerdesk -type f | wc -l)
say "done"
echo "frozen app: dist/steerdesk/steerdesk ($size in $files files)"
echo "PyInstaller: ${pyi_s}s; screenshot run: ${shot_s}s; everything: $(( $(date +%s) - t0 ))s"
echo "screenshot: $SHOT"
