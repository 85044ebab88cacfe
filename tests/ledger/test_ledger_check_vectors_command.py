"""`manage.py hypercore check-vectors FILE`: passes on Hypercore's vectors, names a mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

VECTORS = Path(__file__).resolve().parent / "hypercore" / "data" / "hypercore-v11.json"


def test_the_command_passes_on_the_vectors(capsys):
    call_command("hypercore", "check-vectors", str(VECTORS))

    out = capsys.readouterr().out
    assert "ok  manifest: proof 6 verified" in out
    assert out.rstrip().endswith("checks passed")


def test_the_command_fails_naming_the_first_mismatch(tmp_path):
    data = json.loads(VECTORS.read_text())
    data["modes"]["compat"]["appends"][1]["treeHash"] = "00" * 32
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))

    with pytest.raises(CommandError, match="compat: append 1 tree hash"):
        call_command("hypercore", "check-vectors", str(broken))


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("hypercore", "check-vectors", str(tmp_path / "missing.json"))
