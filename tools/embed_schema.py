"""Copy schemas/audit-event.schema.json into template.yaml's AuditEventSchema `Content`.

The schema registry takes the schema inline; the file in schemas/ is the one people read and
tests validate against. `make schema` keeps the two equal (a test fails when they drift).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDENT = " " * 8


def main() -> None:
    schema = json.loads((ROOT / "schemas" / "audit-event.schema.json").read_text())
    body = "\n".join(INDENT + line for line in json.dumps(schema, indent=2).splitlines())
    template = (ROOT / "template.yaml").read_text()
    pattern = re.compile(r"(  AuditEventSchema:\n(?:.*\n)*?      Content: \|\n)((?:        .*\n)+)")
    updated, count = pattern.subn(lambda m: m.group(1) + body + "\n", template, count=1)
    if count != 1:
        raise SystemExit("AuditEventSchema Content block not found in template.yaml")
    (ROOT / "template.yaml").write_text(updated)


if __name__ == "__main__":
    main()
