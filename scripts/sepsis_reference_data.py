"""Regenerate the sepsis model's reference data and pin its digest in the sepsis config.

Usage: python scripts/sepsis_reference_data.py           (write data/, update the pinned sha256)
       python scripts/sepsis_reference_data.py --check   (exit 1 unless both already agree)

`make sepsis-data` runs the first form. The data is the seeded simulated ICU of
:mod:`samdops.sepsis.reference` (no-drift scenario), so the same code gives the same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from samdops.digest import sha256_bytes
from samdops.sepsis import reference

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / reference.DATA_FILE
CONFIG = REPO / "src" / "samdops" / "configs" / "sepsis.yaml"
_PINNED = re.compile(r"^(  sha256: )(sha256:[0-9a-f]{64})$", re.MULTILINE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    args = parser.parse_args()
    data = reference.reference_bytes()
    digest = sha256_bytes(data)
    config = CONFIG.read_text(encoding="utf-8")
    pinned = _PINNED.findall(config)
    if len(pinned) != 1:
        print(f"expected one `  sha256: sha256:...` line in {CONFIG}", file=sys.stderr)
        return 2
    current = DATA.read_bytes() if DATA.is_file() else b""
    if args.check:
        ok = current == data and pinned[0][1] == digest
        print(f"{DATA.name}: {'up to date' if ok else 'differs'} ({digest})")
        return 0 if ok else 1
    if current != data:
        DATA.write_bytes(data)
    CONFIG.write_text(_PINNED.sub(rf"\g<1>{digest}", config), encoding="utf-8")
    frame = reference.reference_frame()
    print(
        f"wrote {DATA} ({len(data) / 1024:.0f} KiB, {len(frame)} rows, "
        f"{frame['patient_id'].nunique()} stays); pinned {digest} in {CONFIG.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
