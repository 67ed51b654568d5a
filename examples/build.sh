#!/usr/bin/env bash
# Builds every example app as a WebAssembly component and installs them into a
# plugins directory.
#
# Usage: examples/build.sh [--out DIR] [--with-test-apps] [--only APP[,APP...]]
#
#   --out DIR          where to install <app>.wasm (default: ../plugins next to this
#                      script, i.e. the repository's watched plugins directory)
#   --with-test-apps   also install the test and benchmark apps (hostile-*, versioned,
#                      call-probe, answer-hangup, prompt-loop); by default only the demo services
#                      and the tutorial ports are installed
#   --only APPS        build and install only these apps (comma-separated or
#                      repeated); a test app also needs --with-test-apps
#
# All selected crates are built in one cargo invocation
# (cargo build --target wasm32-wasip2 --release); the .wasm cargo writes is already
# a component. Concurrent runs are serialised (flock on the target directory) from
# build to copy, so runs with different CALLHOST_EXAMPLE_VERSION values never
# install each other's build. The target directory is examples/target unless
# CALLHOST_EXAMPLES_TARGET_DIR says otherwise (a CARGO_TARGET_DIR meant for the host
# workspace is deliberately not used).
#
# Each file is copied to a dot-prefixed temporary name in DIR and then renamed into
# place, so a host watching DIR for hot reload never sees a half-written component.
#
# The `versioned` test app reports CALLHOST_EXAMPLE_VERSION (default 1.0.0) as its
# version; set it in the environment to build another version.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target_triple="wasm32-wasip2"

# Installed by default: the demo services and the UAS tutorial ports.
standard_apps=(hello ivr dialer basic-inbound check-state hangup-exception error-exception logger
    outbound-retry outbound-start connect-calls connect-while-playing call-service sip-property
    transfer-service hold-resume recorder record-outbound whole-call-record speaking-clock
    ringback-tone play-encrypted record-encrypted file-manager call-quality)
# Installed only with --with-test-apps: apps that exist for the host's tests.
test_apps=(hostile-loop hostile-alloc hostile-panic hostile-recursion hostile-flood
    hostile-args hostile-handles versioned call-probe answer-hangup prompt-loop)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

out_dir="$script_dir/../plugins"
with_test_apps=false
only=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out)
            [[ $# -ge 2 ]] || { echo "build.sh: --out needs a directory" >&2; exit 2; }
            out_dir="$2"
            shift 2
            ;;
        --out=*)
            out_dir="${1#--out=}"
            shift
            ;;
        --with-test-apps)
            with_test_apps=true
            shift
            ;;
        --only)
            [[ $# -ge 2 ]] || { echo "build.sh: --only needs app names" >&2; exit 2; }
            IFS=, read -r -a names <<< "$2"
            only+=("${names[@]}")
            shift 2
            ;;
        --only=*)
            IFS=, read -r -a names <<< "${1#--only=}"
            only+=("${names[@]}")
            shift
            ;;
        -h|--help)
            usage
            exit 0
            ;;
        *)
            echo "build.sh: unknown argument '$1' (try --help)" >&2
            exit 2
            ;;
    esac
done

# Every workspace member must be in one of the two lists, or it would silently never
# be installed.
for manifest in "$script_dir"/*/Cargo.toml; do
    crate="$(basename "$(dirname "$manifest")")"
    [[ "$crate" == target ]] && continue
    if [[ ! " ${standard_apps[*]} ${test_apps[*]} " == *" $crate "* ]]; then
        echo "build.sh: example crate '$crate' is not listed in build.sh" >&2
        exit 1
    fi
done

# The wasm32-wasip2 standard library must be installed for the active toolchain.
sysroot="$(cd "$script_dir" && rustc --print sysroot)"
if [[ ! -d "$sysroot/lib/rustlib/$target_triple" ]]; then
    echo "build.sh: the Rust target $target_triple is not installed." >&2
    echo "Install it with:  rustup target add $target_triple" >&2
    exit 1
fi

apps=("${standard_apps[@]}")
if $with_test_apps; then
    apps+=("${test_apps[@]}")
fi
package_arguments=(--workspace)
if [[ ${#only[@]} -gt 0 ]]; then
    for app in "${only[@]}"; do
        if [[ ! " ${apps[*]} " == *" $app "* ]]; then
            if [[ " ${test_apps[*]} " == *" $app "* ]]; then
                echo "build.sh: '$app' is a test app: add --with-test-apps" >&2
            else
                echo "build.sh: unknown app '$app' (known: ${standard_apps[*]} ${test_apps[*]})" >&2
            fi
            exit 2
        fi
    done
    apps=("${only[@]}")
    package_arguments=()
    for app in "${apps[@]}"; do
        package_arguments+=(--package "$app")
    done
fi

target_dir="${CALLHOST_EXAMPLES_TARGET_DIR:-$script_dir/target}"
mkdir -p "$target_dir"
# Hold the lock from the build until the last copy: another run may rebuild the same
# artifact (e.g. `versioned` with another version) as soon as cargo is free.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$target_dir/.build-sh.lock"
    flock 9
fi
(
    cd "$script_dir"
    cargo build --target "$target_triple" --release --target-dir "$target_dir" \
        "${package_arguments[@]}"
)

mkdir -p "$out_dir"
artifact_dir="$target_dir/$target_triple/release"
# A component starts with the wasm magic and version 0x0d, layer 1 (a core module
# has version 1, layer 0).
component_header="0061736d0d000100"
for app in "${apps[@]}"; do
    # Cargo names the library after the crate with '-' turned into '_'.
    artifact="$artifact_dir/${app//-/_}.wasm"
    if [[ ! -f "$artifact" ]]; then
        echo "build.sh: cargo did not produce $artifact" >&2
        exit 1
    fi
    header="$(od -An -tx1 -N8 "$artifact" | tr -d ' \n')"
    if [[ "$header" != "$component_header" ]]; then
        echo "build.sh: $artifact is not a WebAssembly component (header $header)" >&2
        exit 1
    fi
    # An identical file is left alone: a rename would make the host reload for nothing.
    if cmp -s "$artifact" "$out_dir/$app.wasm"; then
        echo "unchanged $out_dir/$app.wasm"
        continue
    fi
    temporary="$out_dir/.$app.wasm.tmp.$$"
    cp "$artifact" "$temporary"
    mv -f "$temporary" "$out_dir/$app.wasm"
    echo "installed $out_dir/$app.wasm"
done
