"""fitter/errors.py: one error hierarchy, one UnitError for the models, job specs and recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import saiunit as u

import spikefit
from spikefit import models
from spikefit.cli.main import main
from spikefit.data.recording import Sweep
from spikefit.errors import RecordingError, RecordingUnitError, SpikefitError, UnitError
from spikefit.spec.jobspec import JobSpecError
from spikefit.units import to_pA, to_unit

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "tests" / "assets" / "base_job.toml"  # the quickstart before its step plan
EXAMPLE = REPO / "fitter" / "examples" / "bbp_l5pc_A2_IDrest"


def test_one_hierarchy():
    import spikefit.data.recording
    import spikefit.models.errors
    import spikefit.units

    assert spikefit.UnitError is models.UnitError is spikefit.units.UnitError is spikefit.models.errors.UnitError
    assert spikefit.SpikefitError is spikefit.models.errors.SpikefitError
    assert spikefit.RecordingError is spikefit.data.recording.RecordingError is RecordingError
    assert issubclass(UnitError, SpikefitError) and issubclass(UnitError, TypeError)  # old `except TypeError`
    assert issubclass(SpikefitError, ValueError)  # old `except ValueError`
    for cls in (RecordingError, JobSpecError):
        assert issubclass(cls, SpikefitError) and not issubclass(cls, UnitError)
    assert issubclass(RecordingUnitError, RecordingError) and issubclass(RecordingUnitError, UnitError)


@pytest.mark.parametrize(("call", "needles"), [
    # a recording current in mV, as a reader passes it and at the converter itself
    (lambda: Sweep.from_arrays(np.ones(3) * u.mV, dt=0.1 * u.ms, source="cell.abf", sweep_id="3"),
     ["cell.abf", "sweep '3'", "field 'current'", "expected a current quantity", "mV"]),
    (lambda: to_pA(np.ones(3), "mV", where="cell.abf, field 'current'"),
     ["cell.abf, field 'current'", "unknown current unit 'mV'", "'pA'"]),
    # a model parameter in mV, at construction and in the functional simulator
    (lambda: models.LIF(2, tau=10.0 * u.mV), ["'tau'", "expected a quantity in ms", "mV"]),
    (lambda: models.Simulator("LIF", free=("tau",), dt=0.1 * u.mV), ["'dt'", "ms", "mV"]),
    # a job bound in mV, converted as the job spec converts it
    (lambda: to_unit("5 mV", "ms", key="params.tau.low"), ["params.tau.low", "in ms", "mV"]),
], ids=["sweep-current", "recording-unit", "model-parameter", "simulator-dt", "job-bound"])
def test_a_wrong_unit_is_the_one_unit_error(call, needles):
    with pytest.raises(UnitError) as err:
        call()
    assert isinstance(err.value, SpikefitError)
    for n in needles:
        assert n in str(err.value), str(err.value)


def test_a_recording_unit_error_is_also_a_recording_error():
    with pytest.raises(RecordingError) as err:
        Sweep.from_arrays(np.ones(3), current_unit="furlong", dt=0.1, dt_unit="ms")
    assert isinstance(err.value, UnitError) and isinstance(err.value.__cause__, UnitError)


def _job(tmp_path: Path, old: str, new: str) -> Path:
    text = QUICKSTART.read_text().replace('"../fitter/examples/bbp_l5pc_A2_IDrest"', repr(str(EXAMPLE)))
    assert old in text
    path = tmp_path / "job.toml"
    path.write_text(text.replace(old, new))
    return path


def test_cli_prints_a_bad_unit_in_a_job_as_one_line(tmp_path, capsys):
    job = _job(tmp_path, 'low = "5 ms"', 'low = "5 mV"')
    assert main(["run", str(job)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("spikefit run: error: ") and str(job) in lines[0]
    assert "params.tau.low" in lines[0] and "ms" in lines[0] and "5. mV" in lines[0]
    assert captured.out == ""


def test_cli_joins_a_several_line_job_error_into_one_line(tmp_path, capsys):
    job = _job(tmp_path, "[search]", "[serch]\ntrials = 10\n[modle]\nname = 'LIF'\n[search]")
    with pytest.raises(JobSpecError) as err:
        spikefit.load_job(job)
    assert len(str(err.value).splitlines()) == 2  # one line per problem ...
    assert main(["run", str(job)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "serch" in lines[0] and "modle" in lines[0]  # ... printed as one
