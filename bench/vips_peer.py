"""libvips in process, the peer of bench/images.sh: `thumbnail` then `write_to_buffer`, as an
image server built on libvips does it, so no process start-up sits in its figures.

    python3 bench/vips_peer.py FILE WIDTH FORMAT RUNS

prints the median milliseconds of RUNS renditions (after one untimed, which loads the
codecs) and the size of the last one in bytes. libvips's operation cache is off, so every run
decodes, resizes and encodes.
"""

import statistics
import sys
import time

import pyvips


def main() -> None:
    path, width, fmt, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    pyvips.cache_set_max(0)
    suffix = {"jpeg": ".jpg", "webp": ".webp"}[fmt]

    def render() -> bytes:
        # Metadata stripped, as sous serves renditions; quality 80, as vipsthumbnail's [Q=80].
        # Width only and never enlarged, as sous's `w=`: vips bounds the height by the width
        # unless told otherwise (shrinking portraits further), and enlarges small pictures.
        return pyvips.Image.thumbnail(path, width, height=10_000_000, size="down").write_to_buffer(
            suffix, Q=80, strip=True
        )

    render()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = render()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{statistics.median(times):.0f} {len(out)}")


if __name__ == "__main__":
    main()
