#!/usr/bin/env bash
# Generates the spoken prompts the example apps play, with espeak-ng.
#
# Usage: examples/prompts.sh MEDIA_ROOT
#
# Each app's media directory is MEDIA_ROOT/<app-name>/ and apps open files by bare
# name. Written here:
#   MEDIA_ROOT/hello/hello.wav
#   MEDIA_ROOT/ivr/welcome.wav, MEDIA_ROOT/ivr/goodbye.wav
#   MEDIA_ROOT/versioned/hello.wav, MEDIA_ROOT/dialer/hello.wav (copies of the hello prompt)
#   MEDIA_ROOT/connect-while-playing/playfile.wav (music-on-hold style message)
#   MEDIA_ROOT/hold-resume/music.wav, MEDIA_ROOT/hold-resume/hello.wav
#   MEDIA_ROOT/whole-call-record/hello.wav
#   MEDIA_ROOT/play-encrypted/encrypted.wav (the hello prompt, AES-256-CBC with the
#     UAS tutorial's example key; needs openssl, skipped with a note without it)
# espeak-ng's default output (22050 Hz, 16-bit mono PCM) is kept; the host converts
# on load. A prompt that exists and is newer than this script is not regenerated.
# Files are written under a temporary name and renamed into place.
set -euo pipefail

if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
    [[ $# -eq 1 ]] && exit 0
    exit 2
fi
media_root="$1"
script="${BASH_SOURCE[0]}"

if ! command -v espeak-ng >/dev/null 2>&1; then
    echo "prompts.sh: espeak-ng is not installed (Debian: apt-get install espeak-ng)" >&2
    exit 1
fi

# Up to date: the file exists and is newer than this script (so editing a text
# here regenerates everything).
up_to_date() {
    [[ -s "$1" && "$1" -nt "$script" ]]
}

speak() {
    local file="$1" text="$2"
    if up_to_date "$file"; then
        echo "up to date: $file"
        return
    fi
    mkdir -p "$(dirname "$file")"
    local temporary
    temporary="$(dirname "$file")/.$(basename "$file").tmp.$$"
    espeak-ng -w "$temporary" "$text"
    mv -f "$temporary" "$file"
    echo "generated $file"
}

copy_prompt() {
    local source="$1" file="$2"
    if up_to_date "$file" && [[ ! "$source" -nt "$file" ]]; then
        echo "up to date: $file"
        return
    fi
    mkdir -p "$(dirname "$file")"
    local temporary
    temporary="$(dirname "$file")/.$(basename "$file").tmp.$$"
    cp "$source" "$temporary"
    mv -f "$temporary" "$file"
    echo "copied $file"
}

speak "$media_root/hello/hello.wav" \
    "Hello, and welcome to call host. This call is answered by a WebAssembly app. Goodbye."
speak "$media_root/ivr/welcome.wav" \
    "Welcome. Please enter some digits, then press the hash key."
speak "$media_root/ivr/goodbye.wav" \
    "We did not get any digits. Goodbye."
copy_prompt "$media_root/hello/hello.wav" "$media_root/versioned/hello.wav"
copy_prompt "$media_root/hello/hello.wav" "$media_root/dialer/hello.wav"
speak "$media_root/connect-while-playing/playfile.wav" \
    "Please hold while we connect your call. Please hold while we connect your call."
speak "$media_root/hold-resume/music.wav" \
    "You are on hold. This is music on hold."
copy_prompt "$media_root/hello/hello.wav" "$media_root/hold-resume/hello.wav"
copy_prompt "$media_root/hello/hello.wav" "$media_root/whole-call-record/hello.wav"

# The UAS tutorial's example key and vector (examples/play-encrypted uses them).
encrypted="$media_root/play-encrypted/encrypted.wav"
if ! command -v openssl >/dev/null 2>&1; then
    echo "prompts.sh: openssl is not installed: $encrypted not written" >&2
elif up_to_date "$encrypted" && [[ ! "$media_root/hello/hello.wav" -nt "$encrypted" ]]; then
    echo "up to date: $encrypted"
else
    mkdir -p "$(dirname "$encrypted")"
    temporary="$(dirname "$encrypted")/.$(basename "$encrypted").tmp.$$"
    openssl enc -aes-256-cbc -in "$media_root/hello/hello.wav" -out "$temporary" \
        -K 3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3 \
        -iv 9b0ef243445da908976b7dc9c247c29e
    mv -f "$temporary" "$encrypted"
    echo "encrypted $encrypted"
fi
