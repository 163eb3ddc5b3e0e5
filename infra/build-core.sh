#!/usr/bin/env bash
# Builds the streaming core's container context in infra/build/core/: the stratus-core
# binary cross-compiled for linux/arm64 (cargo-lambda's zig linker; the aarch64 Rust
# target is added if missing) next to infra/Dockerfile. CI runs this; with Docker,
#
#   infra/build-core.sh --image stratus-core:latest [--push <ecr-repository-uri>]
#
# also builds (and pushes) the image. Nothing here downloads at run time of the core.
set -euo pipefail
cd "$(dirname "$0")/.."

image=""
push=""
while [ $# -gt 0 ]; do
    case "$1" in
        --image) image="$2"; shift 2 ;;
        --push) push="$2"; shift 2 ;;
        *) echo "usage: infra/build-core.sh [--image TAG] [--push ECR_URI]" >&2; exit 2 ;;
    esac
done

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi
if ! cargo lambda --version >/dev/null 2>&1; then
    echo "cargo-lambda is needed: python3 -m pip install cargo-lambda" >&2
    exit 1
fi

cargo lambda build --release --arm64 --bin stratus-core
context=infra/build/core
rm -rf "$context"
mkdir -p "$context"
cp target/lambda/stratus-core/bootstrap "$context/stratus-core"
cp infra/Dockerfile "$context/Dockerfile"

# The binary must be a 64-bit ARM Linux executable (ELF e_machine 183).
python3 - "$context/stratus-core" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(20)
assert head[:4] == b"\x7fELF", "not an ELF file"
machine = struct.unpack("<H", head[18:20])[0]
assert machine == 183, f"not an aarch64 binary (e_machine {machine})"
print(f"{sys.argv[1]}: linux/arm64 executable")
PY

if [ -n "$image" ]; then
    docker build --platform linux/arm64 -t "$image" "$context"
    if [ -n "$push" ]; then
        docker tag "$image" "$push"
        docker push "$push"
    fi
fi
