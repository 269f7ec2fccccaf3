"""Write (or with ``--check``, verify) the JSON Schema of every event under ``contracts/schemas/``."""

import json
import sys
from pathlib import Path

from contracts.registry import EVENT_CLASSES

SCHEMA_DIR = Path(__file__).parent / "schemas"


def rendered() -> dict[Path, str]:
    out: dict[Path, str] = {}
    for cls in EVENT_CLASSES:
        event_type = cls.model_fields["event_type"].default
        version = cls.model_fields["schema_version"].default
        schema = cls.model_json_schema(mode="serialization")
        out[SCHEMA_DIR / f"{event_type}.v{version}.json"] = json.dumps(schema, indent=2) + "\n"
    return out


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
        extra = {p.name for p in SCHEMA_DIR.glob("*.json")} - {p.name for p in files}
        for name in [*stale, *sorted(extra)]:
            print(f"out of date: contracts/schemas/{name} (run `make schemas`)")
        return 1 if stale or extra else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files)} schemas to {SCHEMA_DIR.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
