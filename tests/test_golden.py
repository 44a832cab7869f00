"""The CLI's outputs are byte-identical to the recorded ones (tests/golden.py says which and why)."""

from __future__ import annotations

from pathlib import Path

from golden import GOLDEN, record


def test_outputs_match_the_recorded_ones(tmp_path: Path) -> None:
    recorded = {path.stem: path.read_text(encoding="utf-8") for path in GOLDEN.glob("*.txt")}
    produced = {output.name: output.text for output in record(tmp_path)}
    assert sorted(produced) == sorted(recorded)
    different = [name for name in produced if produced[name] != recorded[name]]
    for name in different:  # the first difference of each, for the reader of a failure
        assert produced[name] == recorded[name], name
    assert not different
