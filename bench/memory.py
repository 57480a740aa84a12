"""Peak memory and time of compressing and decompressing one large photo (24 megapixels).

    python bench/memory.py ../shared/data/kodak/kodim23.png [--megapixels 24] [--model NAME]

The photo is upscaled to the size asked for; each step runs in a fresh process so that its peak
resident memory is its own (see aecodec/eval/memory.py).
"""

import argparse
from pathlib import Path

from aecodec.eval.memory import measure_memory, memory_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--megapixels", type=float, default=24)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print(memory_markdown(measure_memory(args.photo, args.megapixels, args.model)))


if __name__ == "__main__":
    main()
