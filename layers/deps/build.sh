#!/usr/bin/env bash
# Build the third-party dependency layer into .build/layers/deps/python (what CDK zips).
# Wheels only, for the Lambda platform (x86_64, CPython 3.12) whatever machine runs this, so the
# layer needs no Docker; versions are pinned to uv.lock through a constraints file.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON_VERSION="${LAYER_PYTHON_VERSION:-3.12}"   # must match the Lambda runtime in cdk/api.py
PLATFORM="${LAYER_PLATFORM:-x86_64-manylinux_2_28}" # Lambda python3.12 = Amazon Linux 2023 (glibc 2.34), x86_64
OUT=.build/layers/deps
UV="$(command -v uv || echo .tools/bin/uv)"

rm -rf "$OUT"
mkdir -p "$OUT/python"
# The layer is exactly pyproject's [project] dependencies (the Lambda runtime set) at the locked
# versions, less what the Lambda Python runtime already ships (boto3 and its own dependencies).
"$UV" export --frozen --no-default-groups --no-emit-project --no-hashes --format requirements-txt \
    | grep -v -E '^(boto3|botocore|s3transfer)==' >"$OUT/requirements.txt"
# `names` is published as an sdist only (pure Python): the one package allowed to build.
"$UV" pip install \
    --target "$OUT/python" \
    --python-platform "$PLATFORM" \
    --python-version "$PYTHON_VERSION" \
    --only-binary=:all: \
    --no-binary names \
    --no-deps \
    -r "$OUT/requirements.txt"
# Bytecode and tests are dead weight in a layer (Lambda's filesystem is read-only at run time).
find "$OUT/python" -type d \( -name __pycache__ -o -name tests \) -prune -exec rm -rf {} +
rm -rf "$OUT/requirements.txt" "$OUT/python/bin"
# phonenumbers ships geocoding, carrier and time-zone tables (~20 MB) that Steward never imports:
# only the numbering-plan metadata (phonenumbers/data) is read to validate numbers.
rm -rf "$OUT/python/phonenumbers/geodata" "$OUT/python/phonenumbers/carrierdata" "$OUT/python/phonenumbers/tzdata"
du -sh "$OUT/python"
