"""The keys a node on the embedded default makes for itself on first start (var/secret_key,
var/master_key), when its processes start together on a fresh folder."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor

from growr_site.settings.secrets import local_secret, new_master_key

STARTING_TOGETHER = 6


def test_processes_starting_together_on_a_fresh_folder_all_get_the_same_key(tmp_path):
    path = tmp_path / "var" / "master_key"
    all_checked = threading.Barrier(STARTING_TOGETHER)

    def generate_once_everyone_has_found_no_key() -> str:
        all_checked.wait(timeout=10)
        return new_master_key()

    with ThreadPoolExecutor(STARTING_TOGETHER) as starting:
        keys = list(
            starting.map(
                lambda _: local_secret(path, generate=generate_once_everyone_has_found_no_key),
                range(STARTING_TOGETHER),
            )
        )

    assert len(set(keys)) == 1
    assert path.read_text() == keys[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["master_key"]


def test_a_kept_key_is_read_back_and_never_made_again(tmp_path):
    path = tmp_path / "secret_key"
    first = local_secret(path, generate=new_master_key)

    def never() -> str:
        raise AssertionError("a key that is kept is not made again")

    assert local_secret(path, generate=never) == first
