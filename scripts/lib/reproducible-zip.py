"""Packs files into a zip whose bytes depend only on the files' contents, their names in the zip
and one timestamp: entries sorted by name, each dated SOURCE_DATE_EPOCH (UTC; zip dates start
in 1980), a regular file with mode 0755 made on Unix, deflated at level 9, no extra fields. The
files' own mtimes, permissions and owners, and the order given, do not matter.

    python3 scripts/lib/reproducible-zip.py OUT.zip EPOCH NAME=PATH [NAME=PATH ...]

Deflate's output comes from the zlib Python links: the same inputs give the same bytes with the
same zlib (a release records its version in BUILDINFO).
"""

import os
import sys
import time
import zipfile

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest date a zip entry holds


def pack(out, epoch, entries):
    date_time = time.gmtime(max(epoch, ZIP_EPOCH))[:6]
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time)
            info.create_system = 3  # Unix, so that the mode below is read
            info.external_attr = (0o100755 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as source:
                archive.writestr(info, source.read(), compresslevel=9)
    os.replace(tmp, out)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    out, epoch = argv[1], int(argv[2])
    entries = []
    for entry in argv[3:]:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            sys.exit(f"not NAME=PATH: {entry}")
        entries.append((name, path))
    if len({name for name, _ in entries}) != len(entries):
        sys.exit("an entry name is given twice")
    pack(out, epoch, entries)


if __name__ == "__main__":
    main(sys.argv)
