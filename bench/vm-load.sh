#!/usr/bin/env bash
# Signalling load past the host's open-files limit: runs bench/run-load.sh, unchanged, inside a
# virtual machine where root may raise RLIMIT_NOFILE. Use it where the host caps descriptors
# below the client count (a container without CAP_SYS_RESOURCE, say); elsewhere run-load.sh is
# enough. The guest has no git, so the hub's label (its commit) is taken here.
#
#   bench/vm-load.sh [CLIENTS...]        default: 50000
#
# Needs, as root on a Debian host, the packages qemu-system-x86, debootstrap and e2fsprogs. The host builds the hub and the load tool (release) and installs PeerJS; the guest
# is a minimal Debian bookworm (made once with debootstrap, kept in $VM_WORK/root) with the
# host's node, booted straight into a script that raises the limits and runs run-load.sh. The
# results come back to $VM_WORK/results.jsonl and the guest's output to $VM_WORK/console.log.
#
# The guest is emulated (TCG) by default, which works everywhere: memory per connection is the
# same as on hardware, round trips are slower for both servers alike. Where KVM works, set
# VM_ACCEL=kvm (on the machine of docs/benchmarks.md, a nested guest hangs at boot under KVM).
#
# Environment: VM_WORK (default /tmp/globallink-vm), VM_MEM (guest memory, default 12G),
# VM_CPUS (default: the host's cores), VM_MIRROR (Debian mirror for debootstrap, default
# http://deb.debian.org/debian); LOAD_ARGS, LOAD_SKIP_PEERJS, LOAD_SKIP_HUB and every
# GLOBALLINK_* variable (the hub's configuration) are passed on to the guest.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${VM_WORK:-/tmp/globallink-vm}
MEM=${VM_MEM:-12G}
CPUS=${VM_CPUS:-$(nproc)}
MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}
ACCEL=${VM_ACCEL:-tcg,thread=multi}
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(50000)

for tool in qemu-system-x86_64 debootstrap mkfs.ext4 debugfs; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool (apt-get install qemu-system-x86 debootstrap e2fsprogs)" >&2
        exit 1
    }
done
mkdir -p "$WORK"
cd "$ROOT"

echo "== building (release, on the host)"
cargo build --release --bin globallink
CARGO_TARGET_DIR="$TARGET/bench-load" cargo build --release \
    --manifest-path bench/load/Cargo.toml
if [ ! -d bench/peerjs/node_modules/peer ]; then
    (cd bench/peerjs && npm ci --no-audit --no-fund)
fi
MAX=0
for n in "${COUNTS[@]}"; do [ "$n" -gt "$MAX" ] && MAX=$n; done
LOAD=$WORK/load
if [ -z "${LOAD_SKIP_HUB:-}" ]; then
    echo "== officer and $MAX cases (on the host: an emulated guest would take far longer)"
    LOAD_WORK=$LOAD LOAD_CASES_ONLY=1 LOAD_HUB_BIN="$TARGET/release/globallink" \
        LOAD_BIN="$TARGET/bench-load/release/globallink-load" bash bench/run-load.sh "$MAX"
fi
mkdir -p "$LOAD"

if [ ! -x "$WORK/root/bin/bash" ]; then
    echo "== guest root filesystem (debootstrap, once)"
    rm -rf "$WORK/root.part"
    debootstrap --variant=minbase \
        --include=linux-image-amd64,procps,iproute2,curl,jq,bsdextrautils,libstdc++6 \
        bookworm "$WORK/root.part" "$MIRROR"
    mv "$WORK/root.part" "$WORK/root"
fi

echo "== guest disk"
GUEST=$WORK/root
rm -rf "$GUEST/opt/globallink"
mkdir -p "$GUEST/opt/globallink/bench" "$GUEST/opt/globallink/bin"
cp bench/run-load.sh "$GUEST/opt/globallink/bench/"
cp -r bench/peerjs "$GUEST/opt/globallink/bench/"
cp "$TARGET/release/globallink" "$TARGET/bench-load/release/globallink-load" \
    "$GUEST/opt/globallink/bin/"
cp "$(command -v node)" "$GUEST/usr/local/bin/node"
# The scratch directory keeps its host path in the guest, so the hub's data directory does too.
rm -rf "${GUEST:?}$LOAD"
mkdir -p "$(dirname "$GUEST$LOAD")"
cp -a "$LOAD" "$GUEST$LOAD"
rm -f "$GUEST$LOAD/results.jsonl" "$GUEST$LOAD/hub.log" "$GUEST$LOAD/peerjs.log"
LABEL=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo '#!/bin/bash'
    echo '# PID 1 of the load guest (written by bench/vm-load.sh).'
    echo 'mountpoint -q /proc || mount -t proc proc /proc'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    echo 'ip link set lo up'
    echo 'ulimit -Hn 1048576; ulimit -Sn 1048576'
    echo 'sysctl -qw net.ipv4.ip_local_port_range="10000 64999" net.core.somaxconn=65535'
    echo 'cd /opt/globallink'
    for var in $(compgen -e | grep '^GLOBALLINK_' || true); do
        printf '%s=%q ' "$var" "${!var}"
    done
    printf 'LOAD_WORK=%q LOAD_HUB_BIN=bin/globallink LOAD_BIN=bin/globallink-load' "$LOAD"
    printf ' LOAD_LABEL=%q LOAD_ARGS=%q' "$LABEL" "${LOAD_ARGS:-}"
    printf ' LOAD_SKIP_PEERJS=%q LOAD_SKIP_HUB=%q' "${LOAD_SKIP_PEERJS:-}" "${LOAD_SKIP_HUB:-}"
    printf ' bash bench/run-load.sh %s\n' "${COUNTS[*]}"
    echo 'sync; echo o > /proc/sysrq-trigger; sleep 10'
} >"$GUEST/opt/globallink/init.sh"
chmod +x "$GUEST/opt/globallink/init.sh"
IMAGE=$WORK/guest.img
rm -f "$IMAGE"
SIZE_MIB=$(($(du -sm "$GUEST" | cut -f1) + 4096))
mkfs.ext4 -q -F -d "$GUEST" "$IMAGE" "${SIZE_MIB}M"

echo "== booting the guest ($ACCEL, $CPUS cores, $MEM)"
KERNEL=$(ls "$GUEST"/boot/vmlinuz-* | sort -V | tail -1)
INITRD=$(ls "$GUEST"/boot/initrd.img-* | sort -V | tail -1)
qemu-system-x86_64 -accel "$ACCEL" -cpu max -smp "$CPUS" -m "$MEM" -nographic -no-reboot \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -append "root=/dev/vda rw console=ttyS0 quiet panic=-1 init=/opt/globallink/init.sh" \
    -drive "file=$IMAGE,format=raw,if=virtio" | tee "$WORK/console.log"

echo "== results"
rm -f "$WORK/results.jsonl"
debugfs -R "dump $LOAD/results.jsonl $WORK/results.jsonl" "$IMAGE" 2>/dev/null
[ -s "$WORK/results.jsonl" ] || { echo "the guest wrote no results" >&2; exit 1; }
cat "$WORK/results.jsonl"
