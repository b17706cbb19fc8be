"""libvips in process, the peer of bench/images.sh: `thumbnail` then `write_to_buffer`, as an
image server built on libvips does it, so no process start-up sits in its figures.

    python3 bench/vips_peer.py FILE WIDTH FORMAT RUNS

prints the median milliseconds of RUNS renditions (after one untimed, which loads the
codecs), the size of the last one in bytes, and the median milliseconds of its encode alone
(from the resized picture in memory): the floor of any server that encodes with the same
library and settings. libvips's operation cache is off, so every run decodes, resizes and
encodes.
"""

import statistics
import sys
import time

import pyvips


def main() -> None:
    path, width, fmt, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    pyvips.cache_set_max(0)
    suffix = {"jpeg": ".jpg", "webp": ".webp"}[fmt]

    def thumbnail() -> pyvips.Image:
        # Width only and never enlarged, as sous's `w=`: vips bounds the height by the width
        # unless told otherwise (shrinking portraits further), and enlarges small pictures.
        return pyvips.Image.thumbnail(path, width, height=10_000_000, size="down")

    def encode(picture: pyvips.Image) -> bytes:
        # Metadata stripped, as sous serves renditions; quality 80, as vipsthumbnail's [Q=80].
        return picture.write_to_buffer(suffix, Q=80, strip=True)

    def median_ms(work, *args) -> float:
        work(*args)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            work(*args)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    whole = median_ms(lambda: encode(thumbnail()))
    resized = thumbnail().copy_memory()
    encode_only = median_ms(encode, resized)
    print(f"{whole:.0f} {len(encode(resized))} {encode_only:.0f}")


if __name__ == "__main__":
    main()
