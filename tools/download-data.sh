#!/usr/bin/env bash
# Downloads MovieLens rating sets from GroupLens and checks them (md5), for recflow's users.
# Usage: tools/download-data.sh [DIR] [SET ...]    SET: ml-100k ml-latest-small ml-1m (default: all)
# The data sets are not ours to redistribute: read their licences (DIR/<set>/README*) first.
# MovieLens: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and
# Context. ACM TiiS 5(4), Article 19. Research use only; no redistribution without permission.
set -euo pipefail

dir=${1:-data}
shift || true
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(ml-100k ml-latest-small ml-1m)
base=https://files.grouplens.org/datasets/movielens

# Known md5 sums of files inside the archives (the archives' own .md5 files are checked too).
declare -A known=(
  [ml-100k/u.data]=6e47046882bad158b0efbb84cd5cb987
  [ml-100k/u1.base]=4325f44281c9f8c119a3694662d63fc2
  [ml-100k/u1.test]=62d5d837e7c8e36550cc956b09c2ecc8
  [ml-latest-small/ratings.csv]=325a6f09399d1c45671f187505e1a100
)

fetch() {  # url file
  if command -v curl >/dev/null; then curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null; then wget -q -O "$2" "$1"
  else echo "download-data: need curl or wget (apt-get install curl)" >&2; exit 1; fi
}

unpack() {  # zip dir
  if command -v unzip >/dev/null; then unzip -q -o "$1" -d "$2"
  else python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}

mkdir -p "$dir"
for set in "${sets[@]}"; do
  case "$set" in ml-100k|ml-latest-small|ml-1m) ;; *) echo "download-data: unknown set $set" >&2; exit 2 ;; esac
  zip="$dir/$set.zip"
  echo "download-data: $base/$set.zip"
  fetch "$base/$set.zip" "$zip"
  if fetch "$base/$set.zip.md5" "$zip.md5" 2>/dev/null; then
    want=$(grep -oE '[0-9a-f]{32}' "$zip.md5" | head -1)
    got=$(md5sum "$zip" | cut -d' ' -f1)
    if [ -n "$want" ] && [ "$want" != "$got" ]; then
      echo "download-data: $zip: md5 $got, GroupLens says $want: damaged download, removed" >&2
      rm -f "$zip" "$zip.md5"; exit 1
    fi
    rm -f "$zip.md5"
  fi
  unpack "$zip" "$dir"
  rm -f "$zip"
  for f in "${!known[@]}"; do
    [[ $f == "$set/"* ]] || continue
    got=$(md5sum "$dir/$f" | cut -d' ' -f1)
    if [ "$got" != "${known[$f]}" ]; then
      echo "download-data: $dir/$f: md5 $got, expected ${known[$f]}: not the published file" >&2; exit 1
    fi
  done
  echo "download-data: $dir/$set ok"
done
