"""Fuzzing every reader on mutated real files (hypothesis, derandomized: reproducible in CI).

Seeds are real recordings (the shipped BBP example; the ABF and qsnmc2007 files of the shared
data) and small files in the other formats made from the example's first sweep. Each case
mutates one file (truncation, bit flips, overwritten bytes, a huge header value or a huge
prepended header, random bytes, an empty file) and loads it.

Property: ``load`` returns a Recording (or a list of them) or raises a SpikefitError whose
message names the file; never another exception type, never more than ``CASE_SECONDS`` per
case, and nothing is written (neither beside the data nor in the working folder). Reading a
file with the wrong reader (wrong ``format=`` or a wrong extension) is tested for every pair.
Minimal examples found by fuzzing are kept at the end as explicit regression tests.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import shutil
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikefit.data.readers import load
from spikefit.data.recording import Recording
from spikefit.errors import SpikefitError

CASE_SECONDS = 10
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
IBW = ("X_IDrest_ch0_330.ibw", "X_IDrest_ch1_330.ibw")


# ---------------------------------------------------------------------- seeds
def _write_nwb(path: Path, current_pA: np.ndarray, voltage_mV: np.ndarray, rate_hz: float) -> None:
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    f = NWBFile(session_description="fuzz seed", identifier="bbp-a2",
                session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    el = f.create_icephys_electrode(name="e0", description="e", device=f.create_device(name="amp"))
    f.add_stimulus(CurrentClampStimulusSeries(name="stim_0", data=current_pA * 1e-12, electrode=el, gain=1.0,
                                              rate=rate_hz, sweep_number=0))
    f.add_acquisition(CurrentClampSeries(name="resp_0", data=voltage_mV * 1e-3, electrode=el, gain=1.0,
                                         rate=rate_hz, sweep_number=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(f)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, example_data) -> dict[str, tuple[Path, str, dict]]:
    """format -> (seed folder, file passed to load, reader options); folders are copied per case."""
    import pandas as pd

    from spikefit.results.sweep_table import write_sweep_table

    root = tmp_path_factory.mktemp("fuzz_seeds")
    out: dict[str, tuple[Path, str, dict]] = {}
    (root / "ibw").mkdir()
    for name in IBW:
        shutil.copy(example_data / name, root / "ibw")
    out["ibw"] = (root / "ibw", IBW[0], {})
    rec = load(example_data / IBW[0])
    s = rec[0]
    n = 4000
    cur, volt, dt = s.current[:n], s.voltage[:n], s.dt_ms
    spikes = s.spike_times_ms[s.spike_times_ms < n * dt]
    for fmt in ("npz", "csv", "parquet", "nwb", "text"):
        (root / fmt).mkdir()
    np.savez(root / "npz" / "a2.npz", current=np.stack([cur, cur]), current_unit="pA", dt_ms=dt,
             voltage=np.stack([volt, volt]), voltage_unit="mV", spike_times_ms=np.r_[spikes, spikes],
             spike_sweep=np.r_[np.zeros(spikes.size, int), np.ones(spikes.size, int)], sweep_ids=np.array(["a", "b"]),
             cell="a2")
    out["npz"] = (root / "npz", "a2.npz", {})
    pd.DataFrame({"time_ms": np.arange(n) * dt, "current_pA": cur, "voltage_mV": volt,
                  "sweep": 0}).to_csv(root / "csv" / "a2.csv", index=False)
    out["csv"] = (root / "csv", "a2.csv", {})
    write_sweep_table(rec.subset([s]), root / "parquet" / "a2.parquet")
    out["parquet"] = (root / "parquet", "a2.parquet", {})
    _write_nwb(root / "nwb" / "a2.nwb", cur, volt, 1000.0 / dt)
    out["nwb"] = (root / "nwb", "a2.nwb", {})
    np.savetxt(root / "text" / "a2.txt", np.c_[cur, volt], fmt="%.4f")
    out["text"] = (root / "text", "a2.txt", {"current_unit": "pA", "voltage_unit": "mV", "rate_hz": 1000.0 / dt})
    shared = Path(os.environ.get("SPIKEFIT_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
    abf = shared / "pyabf_current_clamp" / "17o05027_ic_ramp.abf"
    if abf.is_file():
        (root / "abf").mkdir()
        shutil.copy(abf, root / "abf")
        out["abf"] = (root / "abf", abf.name, {})
    qs = shared / "qsnmc2007" / "challengeA_training"
    if qs.is_dir():  # the first 3 s of one repeat, with its spike times
        (root / "qsnmc").mkdir()
        lines = gzip.open(qs / "05-0.voltage.gz", "rt").read().splitlines()[:3000]
        (root / "qsnmc" / "05-0.voltage.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        kept = [x for x in (qs / "05-0.spiketimes").read_text().splitlines() if x.strip() and float(x.split()[0]) < 3000]
        (root / "qsnmc" / "05-0.spiketimes").write_text("\n".join(kept) + "\n")
        out["qsnmc"] = (root / "qsnmc", "05-0.voltage.gz", {"preset": "qsnmc2007"})
    return out


FORMAT_OF = {"qsnmc": "text"}
ALL = ("ibw", "abf", "nwb", "npz", "csv", "text", "parquet", "qsnmc")


# ---------------------------------------------------------------------- mutations
_HUGE_INTS = [b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]
POSITION = st.one_of(st.integers(0, 1023), st.floats(0, 1))  # the header, or anywhere
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(POSITION, st.integers(0, 7)), min_size=1, max_size=8)),
    st.tuples(st.just("overwrite"), POSITION, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("huge_int"), st.integers(0, 508), st.sampled_from(_HUGE_INTS)),
    st.tuples(st.just("huge_header"), st.integers(10_000, 2_000_000), st.sampled_from([b"x", b",", b"\x00", b"9"])),
    st.tuples(st.just("random"), st.binary(max_size=4096)),
    st.tuples(st.just("empty"),),
)


def _offset(pos, size: int) -> int:
    return min(int(pos if isinstance(pos, int) else pos * size), max(size - 1, 0))


def mutate(data: bytes, how: tuple) -> bytes:
    b = bytearray(data)
    kind = how[0]
    if kind == "truncate":
        return bytes(b[: int(how[1] * len(b))])
    if kind == "flip":
        for pos, bit in how[1]:
            b[_offset(pos, len(b))] ^= 1 << bit
        return bytes(b)
    if kind == "overwrite":
        i = _offset(how[1], len(b))
        b[i: i + len(how[2])] = how[2]
        return bytes(b)
    if kind == "huge_int":
        b[how[1]: how[1] + 4] = how[2]
        return bytes(b)
    if kind == "huge_header":  # a first line / block of megabytes before the real content
        return how[2] * how[1] + b"\n" + bytes(b)
    if kind == "random":
        return how[1]
    return b""


# ---------------------------------------------------------------------- the property
class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    def on_alarm(signum, frame):
        raise Hang(f"more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check_load(path: Path, names: set[str], *, format: str | None = None, **options) -> None:
    """``load(path)``: a Recording (list), or a SpikefitError naming one of ``names``."""
    folder, cwd = path.parent, Path.cwd()
    before, before_cwd = sorted(os.listdir(folder)), sorted(os.listdir(cwd))
    try:
        with time_limit(CASE_SECONDS), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = load(path, format=format, **options)
    except SpikefitError as err:
        assert any(n in str(err) for n in names), f"the message does not name the file: {err}"
    except Hang:
        pytest.fail(f"{path.name}: load took more than {CASE_SECONDS} s")
    else:
        recs = out if isinstance(out, list) else [out]
        assert recs and all(isinstance(r, Recording) for r in recs)
    assert sorted(os.listdir(folder)) == before, "the reader wrote beside the data"
    assert sorted(os.listdir(cwd)) == before_cwd, "the reader wrote in the working folder"


@pytest.mark.parametrize("fmt", ALL)
def test_mutated_real_files_load_or_fail_naming_the_file(fmt, seeds, tmp_path, monkeypatch):
    if fmt not in seeds:
        pytest.skip(f"no {fmt} seed (shared data not found)")
    folder, target, options = seeds[fmt]
    files = sorted(p.name for p in folder.iterdir())
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "case"

    @SETTINGS
    @given(victim=st.sampled_from(files), how=MUTATIONS)
    def run(victim, how):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(folder, work)
        (work / victim).write_bytes(mutate((folder / victim).read_bytes(), how))
        check_load(work / target, {target, victim}, format=FORMAT_OF.get(fmt, fmt), **options)
        shutil.rmtree(work)

    run()


@pytest.mark.parametrize(("real", "as_fmt"), [(a, b) for a, b in itertools.product(ALL, ALL)
                                               if FORMAT_OF.get(a, a) != FORMAT_OF.get(b, b)])
def test_wrong_reader_fails_naming_the_file(real, as_fmt, seeds, tmp_path, monkeypatch):
    if real not in seeds or as_fmt not in seeds:
        pytest.skip("shared data not found")
    folder, target, _ = seeds[real]
    _, other_target, options = seeds[as_fmt]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    shutil.copy(folder / target, tmp_path / "a" / target)  # the real name, read with format=
    check_load(tmp_path / "a" / target, {target}, format=FORMAT_OF.get(as_fmt, as_fmt), **options)
    (tmp_path / "b").mkdir()
    shutil.copy(folder / target, tmp_path / "b" / other_target)  # a wrong extension
    check_load(tmp_path / "b" / other_target, {other_target}, **options)


# ---------------------------------------------------------------------- well-formed files, odd content
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=4), st.sampled_from(["pA", "mV", "nA", "V", "ms", "abc", "0.1", ""]))
_ARRAY = st.one_of(
    st.builds(np.asarray, st.lists(st.floats(-100, 100), max_size=6)),
    st.builds(np.asarray, st.lists(st.lists(st.floats(-100, 100), min_size=3, max_size=3), max_size=3)),
    st.builds(np.asarray, st.lists(st.integers(-2, 8), max_size=6)),
    st.builds(np.asarray, st.lists(st.text(max_size=3), max_size=3)),
    st.builds(np.asarray, _SCALAR.filter(lambda v: v is not None)))
NPZ_KEYS = ["current", "current_unit", "dt_ms", "rate_hz", "voltage", "voltage_unit", "spike_times_ms", "spike_sweep",
            "sweep_ids", "stimulus", "repeat", "cell", "protocol"]
CSV_COLUMNS = ["time_ms", "time_s", "current_pA", "current_nA", "current_x", "voltage_mV", "spike", "sweep",
               "stimulus", "repeat", "cell", "protocol", "other"]
PARQUET_COLUMNS = ["cell", "sweep", "protocol", "stimulus", "repeat", "dt_ms", "current_pA", "voltage_mV",
                   "spike_times_ms", "source"]
_PQ_VALUE = st.one_of(_SCALAR, st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5),
                      st.lists(st.text(max_size=2), max_size=2))


@st.composite
def npz_contents(draw) -> dict:
    keys = draw(st.lists(st.sampled_from(NPZ_KEYS), unique=True, max_size=8))
    base = {"current": np.zeros((2, 5)), "current_unit": np.asarray("pA"), "dt_ms": np.asarray(0.1)}
    return {**(base if draw(st.booleans()) else {}), **{k: draw(_ARRAY) for k in keys}}


@st.composite
def csv_texts(draw) -> str:
    cols = ["current_pA"] + draw(st.lists(st.sampled_from(CSV_COLUMNS), unique=True, max_size=6))
    cols = list(dict.fromkeys(cols))
    rows = draw(st.integers(0, 6))
    cell = st.one_of(st.integers(-3, 3).map(str), st.floats(-1e3, 1e3).map(repr), st.sampled_from(["", "nan", "abc", "1e999"]))
    lines = [",".join(cols)] + [",".join(draw(cell) for _ in cols) for _ in range(rows)]
    return "\n".join(lines) + "\n"


@st.composite
def parquet_columns(draw) -> dict:
    cols = ["sweep", "dt_ms", "current_pA"] + draw(st.lists(st.sampled_from(PARQUET_COLUMNS), unique=True, max_size=10))
    cols = list(dict.fromkeys(cols)) if draw(st.integers(0, 9)) else cols[1:]  # sometimes a required one missing
    rows = draw(st.integers(1, 3))
    return {c: [draw(_PQ_VALUE) for _ in range(rows)] for c in cols}


CONTENT = settings(SETTINGS, max_examples=80)


@CONTENT
@given(content=npz_contents())
def test_npz_with_odd_keys_loads_or_names_the_file(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("npz") / "odd.npz"
    np.savez(path, **content)
    check_load(path, {"odd.npz"})


@CONTENT
@given(text=csv_texts())
def test_csv_with_odd_cells_loads_or_names_the_file(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("csv") / "odd.csv"
    path.write_text(text)
    check_load(path, {"odd.csv"}, rate_hz=10000.0)


@CONTENT
@given(columns=parquet_columns())
def test_parquet_with_odd_columns_loads_or_names_the_file(tmp_path_factory, columns):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.table(columns)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return  # not a table pyarrow can build: nothing to read
    path = tmp_path_factory.mktemp("pq") / "odd.parquet"
    pq.write_table(table, path)
    check_load(path, {"odd.parquet"})


# ---------------------------------------------------------------------- regressions found by fuzzing
def test_truncated_ibw_is_one_line_and_igor2_logs_nothing(seeds, tmp_path, capfd):
    folder, target, _ = seeds["ibw"]
    shutil.copytree(folder, tmp_path / "w")
    (tmp_path / "w" / target).write_bytes((folder / target).read_bytes()[:20000])
    with pytest.raises(SpikefitError, match=r"X_IDrest_ch0_330.ibw: cannot read as an Igor binary wave \(truncated"):
        load(tmp_path / "w" / target)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # igor2 logged ~74 KB of raw bytes here


@pytest.mark.parametrize("content", [b"\x8f\x12 random bytes, no zip", b"time_ms,current_pA\n0,1\n"])
def test_npz_that_is_not_a_zip_is_not_called_pickled(tmp_path, content):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(SpikefitError, match=r"x.npz: expected a .npz archive") as err:
        load(path)
    assert "pickle" not in str(err.value)
    if content.startswith(b"time_ms"):
        assert "pass format='csv'" in str(err.value)


def test_csv_with_text_in_the_current_column_names_file_column_and_row(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time_ms,current_pA,voltage_mV\n0,1,-70\n0.1,abc,-70\n0.2,3,-70\n")
    with pytest.raises(SpikefitError, match=r"x.csv, sweep '0', column 'current_pA': expected numbers, "
                                            r"got 'abc' in data row 2; fix or remove that row"):
        load(path)


def test_csv_with_an_empty_sweep_id_is_not_dropped_silently(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time_ms,current_pA,sweep\n0,1,a\n0.1,2,\n0.2,3,a\n")
    with pytest.raises(SpikefitError, match=r"x.csv, column 'sweep': expected a sweep id in every row.*data row 2"):
        load(path)


def test_gzip_stream_damage_is_a_recording_error(tmp_path):
    # a flipped bit inside the deflate stream: zlib.error (not an OSError/ValueError) escaped
    data = bytearray(gzip.compress(("\n".join(f"{i} {i % 7} -70" for i in range(3000)) + "\n").encode()))
    data[len(data) // 2] ^= 0x10
    path = tmp_path / "05-0.voltage.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(SpikefitError, match=r"05-0.voltage.gz: cannot parse as numeric text columns"):
        load(path, preset="qsnmc2007")


def test_damaged_spike_times_file_is_named(tmp_path):
    np.savetxt(tmp_path / "05-0.voltage", np.c_[np.arange(10), np.zeros(10), np.full(10, -70.0)])
    (tmp_path / "05-0.spiketimes").write_text("3\nabc\n")
    with pytest.raises(SpikefitError, match=r"05-0.spiketimes: cannot parse as spike times"):
        load(tmp_path / "05-0.voltage", preset="qsnmc2007")


def test_npz_keys_of_the_wrong_type_name_the_key(tmp_path):
    base = {"current": np.zeros((1, 5)), "current_unit": "pA", "dt_ms": 0.1}
    for key, value, match in (("dt_ms", np.array(["x"]), r"key 'dt_ms': expected one finite number > 0"),
                              ("dt_ms", np.zeros(3), r"key 'dt_ms': expected one finite number > 0"),
                              ("current", np.array(["a", "b"]), r"key 'current': expected an array of numbers"),
                              ("repeat", np.array(["a"]), r"key 'repeat': expected an array of integers"),
                              ("rate_hz", np.asarray(0.0), r"key 'rate_hz': expected one finite number > 0"),  # 1000/0
                              ("sweep_ids", np.array("one"), None)):
        content = {**base, key: value}
        if key == "rate_hz":
            del content["dt_ms"]
        np.savez(tmp_path / "k.npz", **content)
        if match is None:  # a 0-d id array: iterating it raised TypeError; now one sweep id
            assert load(tmp_path / "k.npz")[0].sweep_id == "one"
            continue
        with pytest.raises(SpikefitError, match=rf"k.npz: {match}"):
            load(tmp_path / "k.npz")


def test_parquet_row_errors_name_the_table(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # the row's `source` column named the message (here: True), not the table being read
    pq.write_table(pa.table({"sweep": ["1"], "dt_ms": [0.0], "current_pA": [[1.0, 2.0]], "source": [True]}),
                   tmp_path / "t.parquet")
    with pytest.raises(SpikefitError, match=r"t.parquet, row 0: True, sweep '1', field 'dt_ms': expected a finite"):
        load(tmp_path / "t.parquet")
    # a null sweep id became the sweep "None"
    pq.write_table(pa.table({"sweep": [None], "dt_ms": [0.1], "current_pA": [[1.0, 2.0]]}), tmp_path / "n.parquet")
    with pytest.raises(SpikefitError, match=r"n.parquet, row 0, column 'sweep': expected a sweep id, got null"):
        load(tmp_path / "n.parquet")
    # text where numbers belong: np.asarray(..., dtype=float) raised a bare ValueError
    pq.write_table(pa.table({"sweep": ["1"], "dt_ms": [0.1], "current_pA": [["a", "b"]]}), tmp_path / "s.parquet")
    with pytest.raises(SpikefitError, match=r"s.parquet, sweep '1', field 'current': expected an array of real"):
        load(tmp_path / "s.parquet")
