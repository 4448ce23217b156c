"""write_atomic: whole files or none, with the permissions a plain open() would give."""

import os
import stat

import pytest

from vitkit.atomic import write_atomic


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_file_has_open_permissions_and_content(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "sub" / "f.bin", lambda f: f.write(b"abc"))
        with open(tmp_path / "plain.bin", "wb") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"abc"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_atomic(tmp_path / "f.bin", lambda f: f.write(b"old"))

    def fail(f):
        f.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_atomic(path, fail)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
