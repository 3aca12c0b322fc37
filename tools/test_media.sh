# Sourced by tools/test.sh: the real video of the dfer-predict smoke test, kphotoalbum's
# demo/movie.avi (a person talking to the camera, 68 frames). Debian's package is downloaded and
# only that file unpacked into $DFER_BUILD/test-media (installing kphotoalbum would pull in KDE).
fetch_test_media() {
  local dir="$DFER_BUILD/test-media" tmp
  if [ -s "$dir/movie.avi" ]; then return; fi
  step "fetching the real-video test clip (Debian's kphotoalbum, demo/movie.avi)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download kphotoalbum) || fail "apt-get download kphotoalbum"
  dpkg-deb --fsys-tarfile "$tmp"/kphotoalbum_*.deb |
    tar -x -C "$tmp" ./usr/share/kphotoalbum/demo/movie.avi || fail "unpacking demo/movie.avi"
  mkdir -p "$dir"
  mv "$tmp/usr/share/kphotoalbum/demo/movie.avi" "$dir/movie.avi"
  rm -rf "$tmp"
}
