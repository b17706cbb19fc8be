"""A seller's archive for bench/bulk.sh: real JPEG photos repeated until the archive reaches a
size or a count, each copy made distinct by a JPEG comment segment with its number (so each
is registered as its own image), stored as browser zippers (JSZip) store them.

    python3 bench/make_archive.py OUT.zip PHOTOS_DIR [MAX_BYTES] [MAX_ENTRIES]
"""

import os
import sys
import zipfile

MAX_ENTRY = 8 * 1024 * 1024


def photos(folder: str) -> list[bytes]:
    found = []
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            # JPEGs only: a comment segment right after the start marker keeps them valid.
            if data.startswith(b"\xff\xd8\xff") and len(data) < MAX_ENTRY - 64:
                found.append(data)
    return found


def distinct(photo: bytes, n: int) -> bytes:
    comment = f"sous bench copy {n}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return photo[:2] + segment + photo[2:]


def main() -> None:
    out, folder = sys.argv[1], sys.argv[2]
    max_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000_000
    max_entries = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    sources = photos(folder)
    if not sources:
        sys.exit(f"no JPEG under {folder}")
    total = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        n = 0
        while n < max_entries:
            data = distinct(sources[n % len(sources)], n)
            if total + len(data) > max_bytes:
                break
            archive.writestr(f"商品画像/{n:04d}.jpg", data)
            total += len(data)
            n += 1
    print(f"{n} {os.path.getsize(out)}")


if __name__ == "__main__":
    main()
