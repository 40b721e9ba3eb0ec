"""Layer size: `sam build` the template and weigh .aws-sam/build/RemediationLayer.

Sizes are attributed to distributions through their dist-info RECORD files; what no RECORD
lists (the layer's own `remediation` package) is counted by top-level folder.
"""

# ruff: noqa: PLC0415  (the layer, tests/ and tools/ are importable only once world.py put them on sys.path)

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from world import ROOT

BUILD = ROOT / ".aws-sam" / "build" / "RemediationLayer"


def build() -> float:
    from local_aws import LocalAws

    started = time.perf_counter()
    LocalAws().build()
    return time.perf_counter() - started


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def weigh(root: Path = BUILD, top: int = 10) -> dict[str, Any]:
    files = [path for path in root.rglob("*") if path.is_file()]
    total = sum(_size(path) for path in files)
    site = root / "python"
    owner: dict[Path, str] = {}
    for record in site.glob("*.dist-info/RECORD"):
        distribution = record.parent.name.split("-")[0]
        with record.open(newline="") as handle:
            for row in csv.reader(handle):
                if row:
                    owner[(site / row[0]).resolve()] = distribution
    per_package: dict[str, int] = defaultdict(int)
    for path in files:
        name = owner.get(path.resolve())
        if name is None:
            relative = path.relative_to(site) if path.is_relative_to(site) else path.relative_to(root)
            name = f"{relative.parts[0]} (not in a RECORD)"
        per_package[name] += _size(path)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root))
    pyc = sum(1 for path in files if path.suffix == ".pyc")
    return {
        "path": str(root.relative_to(ROOT)),
        "bytes": total,
        "zipped_bytes": len(zipped.getvalue()),
        "files": len(files),
        "pyc_files": pyc,
        # botocore distributions in the layer: one, pinned on purpose (not one per dependency asking)
        "botocore_copies": sum(1 for path in site.glob("botocore-*.dist-info")),
        "py_files": sum(1 for path in files if path.suffix == ".py"),
        "packages": sorted(per_package.items(), key=lambda item: -item[1])[:top],
        "package_count": len(per_package),
    }


def measure(log: Any = print) -> dict[str, Any]:
    seconds = build()
    log(f"  layer: sam build in {seconds:.0f} s")
    return {"build_seconds": seconds, **weigh()}
