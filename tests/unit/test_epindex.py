"""runtime/epindex: the entry-point index answers as importlib.metadata does, and only ever saves time.

Fake distributions are ``*.dist-info`` folders with an ``entry_points.txt`` in temporary
``sys.path`` entries, dated a minute back so that the index may store them (an entry
changed in the last two seconds is rescanned: the racy rule).
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import textwrap
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from otel_run.runtime import entrypoints, epindex

GROUP = "opentelemetry_instrumentor"
PAST = time.time() - 60


def make_dist(root: Path, name: str, version: str, points: dict[str, str], group: str = GROUP) -> Path:
    """A fake installed distribution with ``points`` (name -> module:attr) in ``group``."""
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{key} = {value}\n" for key, value in points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")
    age(root)
    return info


def age(root: Path) -> None:
    """Date ``root`` a minute back, as a folder installed into a while ago."""
    os.utime(root, (PAST, PAST))


def upstream(paths: list[str], group: str = GROUP) -> list[tuple[str, str]]:
    """What importlib.metadata gives for ``group`` with ``sys.path`` = ``paths``, names unique."""
    saved = sys.path[:]
    sys.path[:] = paths
    try:
        seen: dict[str, tuple[str, str]] = {}
        for entry in entry_points(group=group):
            seen.setdefault(entry.name, (entry.name, entry.value))
    finally:
        sys.path[:] = saved
    return list(seen.values())


def ours(index: epindex.Index, paths: list[str], group: str = GROUP) -> list[tuple[str, str]]:
    return [(entry.name, entry.value) for entry in epindex.entries(index.dists(paths), group)]


@pytest.fixture
def site(tmp_path: Path) -> list[str]:
    """Two sys.path entries: one shadowing a distribution of the other, and an empty one."""
    first, second, empty = tmp_path / "first", tmp_path / "second", tmp_path / "empty"
    make_dist(first, "alpha", "1.0", {"alpha": "json:dumps", "shared": "json:loads"})
    make_dist(second, "alpha", "0.9", {"old_alpha": "json:dumps"})  # shadowed: same name, later
    make_dist(second, "Beta_Lib", "2.0", {"beta": "os.path:join", "shared": "os:getcwd"})
    empty.mkdir()
    age(empty)
    return [str(first), str(second), str(empty)]


@pytest.mark.timeout(30)
def test_a_fresh_index_answers_as_importlib_metadata(
    site: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First distribution of a name wins, then the first entry of a name, in sys.path order."""
    index = epindex.Index(str(tmp_path / "cache"))
    assert ours(index, site) == upstream(site)
    assert ours(index, site) == [("alpha", "json:dumps"), ("shared", "json:loads"), ("beta", "os.path:join")]
    assert index.save()


@pytest.mark.timeout(30)
def test_a_valid_index_is_a_hit_without_a_scan(
    site: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back, the index answers the same with no directory scanned at all."""
    cache = str(tmp_path / "cache")
    written = epindex.Index(cache)
    expected = ours(written, site)
    assert written.save()

    def no_scan(path: str) -> tuple[epindex.Dist, ...]:
        raise AssertionError(f"{path} was scanned")

    monkeypatch.setattr(epindex, "scan", no_scan)
    read = epindex.Index(cache)
    read.load()
    assert ours(read, site) == expected
    assert not read.changed


@pytest.mark.timeout(30)
def test_installing_and_removing_a_distribution_is_seen(
    site: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dist-info added to or removed from an indexed entry changes its time: rescanned, answered anew."""
    cache = str(tmp_path / "cache")
    index = epindex.Index(cache)
    ours(index, site)
    assert index.save()

    added = make_dist(Path(site[2]), "gamma", "3.0", {"gamma": "json:JSONDecoder"})
    os.utime(site[2], (PAST + 5, PAST + 5))  # installed later than the index was written
    after_install = epindex.Index(cache)
    after_install.load()
    assert ("gamma", "json:JSONDecoder") in ours(after_install, site)
    assert ours(after_install, site) == upstream(site)
    assert after_install.changed and after_install.save()

    for child in added.iterdir():
        child.unlink()
    added.rmdir()
    os.utime(site[2], (PAST + 10, PAST + 10))
    after_removal = epindex.Index(cache)
    after_removal.load()
    assert ("gamma", "json:JSONDecoder") not in ours(after_removal, site)
    assert ours(after_removal, site) == upstream(site)


@pytest.mark.timeout(30)
def test_an_entry_changed_just_now_is_not_stored(site: list[str], tmp_path: Path) -> None:
    """An entry whose time is within the racy window is answered but rescanned next time."""
    os.utime(site[0], None)  # now
    index = epindex.Index(str(tmp_path / "cache"))
    ours(index, site)
    assert os.path.abspath(site[0]) not in index.entries
    assert os.path.abspath(site[1]) in index.entries


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b"\xff" * 64,
        marshal.dumps((epindex.FORMAT, "other python", epindex.interpreter(), {})),
    ],
    ids=["empty", "garbage", "bytes", "other-python"],
)
def test_a_corrupt_or_foreign_file_is_a_miss(
    content: bytes, site: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that is not this interpreter's index is ignored: the answer is a scan's, and it is rewritten."""
    index = epindex.Index(str(tmp_path / "cache"))
    assert index.path is not None
    os.makedirs(index.directory or "")
    Path(index.path).write_bytes(content)
    index.load()
    assert index.entries == {}
    assert ours(index, site) == upstream(site)
    assert index.save()
    again = epindex.Index(index.directory)
    again.load()
    assert set(again.entries) == {os.path.abspath(path) for path in site}


@pytest.mark.timeout(30)
def test_a_malformed_entry_makes_the_whole_file_a_miss(site: list[str], tmp_path: Path) -> None:
    """Right format and interpreter but a wrongly shaped entry: nothing of the file is used."""
    index = epindex.Index(str(tmp_path / "cache"))
    assert index.path is not None
    os.makedirs(index.directory or "")
    bad = {site[0]: (1, (("alpha", "alpha", "1.0", (("g", "n"),)),))}
    Path(index.path).write_bytes(marshal.dumps((epindex.FORMAT, sys.version, epindex.interpreter(), bad)))
    index.load()
    assert index.entries == {}


@pytest.mark.timeout(30)
def test_a_file_writable_by_others_is_not_trusted(site: list[str], tmp_path: Path) -> None:
    """An index anyone could have written does not steer what the boot imports."""
    written = epindex.Index(str(tmp_path / "cache"))
    ours(written, site)
    assert written.save() and written.path is not None
    os.chmod(written.path, 0o666)
    read = epindex.Index(written.directory)
    read.load()
    assert read.entries == {}


@pytest.mark.timeout(30)
def test_an_unwritable_directory_changes_nothing_but_speed(
    site: list[str], tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache directory that cannot be made (under a file) saves nothing, says nothing, answers right."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    index = epindex.Index(str(blocker / "cache"))
    index.load()
    assert ours(index, site) == upstream(site)
    assert index.save() is False
    assert capfd.readouterr() == ("", "")


@pytest.mark.timeout(30)
def test_entrypoints_group_without_a_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With no home and no cache variable, group() still gives the scan's answer, and loads."""
    for name in ("OTEL_RUN_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    entrypoints.reset()
    try:
        found = entrypoints.group("opentelemetry_propagator")
        expected = {entry.name: entry.value for entry in entry_points(group="opentelemetry_propagator")}
        assert {entry.name: entry.value for entry in found} == expected
        propagator = entrypoints.load("opentelemetry_propagator", "tracecontext")
        assert propagator.__name__ == "TraceContextTextMapPropagator"
    finally:
        entrypoints.reset()


@pytest.mark.timeout(30)
def test_entry_load_is_entry_point_load() -> None:
    """Entry.load imports module:attr as EntryPoint.load does, and hands odd values to it."""
    assert (
        epindex.Entry("j", "json:JSONDecoder.decode", GROUP).load() is __import__("json").JSONDecoder.decode
    )
    assert epindex.Entry("p", "os.path", GROUP).load() is os.path
    assert epindex.Entry("x", "json:dumps [extra]", GROUP).load() is __import__("json").dumps
    with pytest.raises(ModuleNotFoundError):
        epindex.Entry("m", "no_such_module_here:x", GROUP).load()


WRITER = textwrap.dedent(
    """
    import sys
    from otel_run.runtime import epindex
    cache, paths = sys.argv[1], sys.argv[2:]
    for _ in range(40):
        index = epindex.Index(cache)
        index.load()
        index.entries.clear()
        index.dists(paths)
        assert index.save()
    """
)


@pytest.mark.timeout(60)
def test_processes_writing_at_once_leave_one_whole_file(
    site: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four processes rewriting the index together: every read meanwhile and after is whole and right."""
    cache = str(tmp_path / "cache")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, cache, *site]) for _ in range(4)]
    expected = upstream(site)
    deadline = time.monotonic() + 50
    reads = 0
    while any(writer.poll() is None for writer in writers) and time.monotonic() < deadline:
        index = epindex.Index(cache)
        index.load()
        if index.entries:
            monkeypatch.setattr(epindex, "scan", lambda path: pytest.fail(f"{path} rescanned"))
            assert ours(index, site) == expected
            monkeypatch.undo()
            reads += 1
    assert [writer.wait(timeout=20) for writer in writers] == [0, 0, 0, 0]
    final = epindex.Index(cache)
    final.load()
    assert ours(final, site) == expected
    assert sorted(os.listdir(cache)) == [epindex.file_name()]  # no temporary file left behind
    assert reads > 0
