#!/usr/bin/env bash
# The test suite against the oldest and the newest transformers that pyproject.toml admits,
# each in a fresh virtual environment (build/tf-VERSION). Not part of CI, which tests the
# version a fresh install gets: run it before changing the range, and before a release.
#
#   bash tools/test_transformers_range.sh            # oldest and newest
#   bash tools/test_transformers_range.sh 5.20.0     # those versions only
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

oldest=$(python3 -c 'import re, pathlib
text = pathlib.Path("pyproject.toml").read_text()
print(re.search(r"\"transformers>=([0-9.]+)", text).group(1))')
newest=$(python3 -m pip index versions transformers 2>/dev/null \
         | sed -n 's/^transformers (\(.*\))$/\1/p')
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("$oldest" "$newest")

status=0
for v in "${versions[@]}"; do
  venv="build/tf-$v"
  echo "== transformers $v ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q torch==2.13.0
  "$venv/bin/python" -m pip install -q -e ".[test]" "transformers==$v"
  if "$venv/bin/python" -m pytest -q -p no:warnings; then
    echo "== transformers $v: passed"
  else
    echo "== transformers $v: FAILED"
    status=1
  fi
done
exit $status
