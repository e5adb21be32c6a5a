#!/usr/bin/env bash
# Stage the sketch + the shared protocol sources into OUTDIR and build for Arduino Uno with arduino-mk.
#   firmware_bridge/arduino/build_avr.sh OUTDIR [extra -D flags...]
#   e.g. build_avr.sh /tmp/iw_uno -DIMUWALK_SYNTHETIC_IMU -DIMUWALK_HEX_UART -DIMUWALK_RUN_SECONDS=4
# Result: OUTDIR/imuwalk_stream/build-uno/imuwalk_stream_.elf (+ .hex).  With --stage-only the staged sketch
# folder is ready for arduino-cli / the Arduino IDE (ESP32, RP2040, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stage_only=0
if [ "${1:-}" = "--stage-only" ]; then stage_only=1; shift; fi
out="${1:?usage: build_avr.sh [--stage-only] OUTDIR [-DFLAG ...]}"; shift
sk="$out/imuwalk_stream"
mkdir -p "$sk"
cp "$here/imuwalk_stream/imuwalk_stream.ino" "$here/imuwalk_stream/imu_shim.h" "$here/imuwalk_stream/Makefile" "$sk/"
cp "$here/../protocol/imuwalk_proto.h" "$here/../protocol/imuwalk_proto.c" "$sk/"
if [ "$stage_only" = 1 ]; then echo "$sk"; exit 0; fi
make -C "$sk" IMUWALK_DEFS="$*" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
elf="$sk/build-uno/imuwalk_stream_.elf"
test -f "$elf"
avr-size -C --mcu=atmega328p "$elf" 2>/dev/null || avr-size "$elf"
echo "ELF: $elf"
