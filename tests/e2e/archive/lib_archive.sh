# shellcheck shell=bash
# Helpers for the archive tests (test_archive_*.sh); source after lib.sh.

ARCHIVE_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# compare_trees A B [options]: see compare_trees.py (content, types, links,
# and what the options ask for).
compare_trees() {
  python3 "$ARCHIVE_HELPERS/compare_trees.py" "$@" || fail "trees differ: $1 vs $2 ($*)"
}

# make_archive_tree DIR: a tree with what archives should carry: content of
# several sizes, a sparse file, modes, owners, ns mtimes, symlinks (relative,
# dangling, absolute), hardlinks, Vietnamese names, empty file and directory,
# user xattrs. Times are set last, deepest first.
make_archive_tree() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    printf 'plain text\n' >plain.txt
    : >empty.txt
    head -c 100000 /dev/urandom >small.bin
    head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >medium.bin
    truncate -s 64M sparse.img
    printf 'kho was here' | dd of=sparse.img bs=1 seek=$((9 * 1024 * 1024)) conv=notrunc status=none
    mkdir -p "hồ sơ/báo cáo" emptydir modes hard/inner links
    printf 'Chúc mừng năm mới\n' >"hồ sơ/báo cáo/Tết Nguyên Đán.txt"
    printf 'with space\n' >"hồ sơ/with space.txt"
    printf '#!/bin/sh\necho hi\n' >modes/exec.sh
    chmod 0755 modes/exec.sh
    printf 'secret\n' >modes/private.txt
    chmod 0600 modes/private.txt
    printf 'ro\n' >modes/readonly.txt
    chmod 0444 modes/readonly.txt
    mkdir modes/setgid_dir
    chmod 2750 modes/setgid_dir
    printf 'shared content\n' >hard/a.txt
    ln hard/a.txt hard/b.txt
    ln hard/a.txt hard/inner/c.txt
    ln -s ../plain.txt links/relative
    ln -s does/not/exist links/dangling
    ln -s /etc/hostname links/absolute
    if [[ $(id -u) -eq 0 ]]; then
      chown 1234:2345 modes/private.txt
      chown 4321:5432 modes/setgid_dir
      chmod 2750 modes/setgid_dir
    fi
    setfattr -n user.kho.note -v "giữ lại" plain.txt 2>/dev/null || true
    # ns mtimes, deepest first so directory times stay as set.
    local i=0 p
    while IFS= read -r -d '' p; do
      i=$((i + 1))
      touch -h -d "@$((1700000000 + i * 3601)).$(printf '%09d' $((i * 123456789 % 1000000000)))" "$p"
    done < <(find . -depth -mindepth 1 -print0)
    touch -d "@1699999999.987654321" .
  )
}
