"""A real results folder with two cells for the report tests, and its per-sweep summary.

``two_cell_results``: the quickstart fit (tests/conftest.py ``quick_results``) with every table
appended a second time under another cell name, through the result store, as a two-cell job
writes them.
"""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest

SECOND = "copy of A2"


@pytest.fixture(scope="session")
def two_cell_results(quick_results, tmp_path_factory):
    from spikefit.results.store import ResultStore

    root = tmp_path_factory.mktemp("two_cells") / "results"
    shutil.copytree(quick_results, root)
    store = ResultStore(root)
    units = store.read_best().attrs["units"]
    trials = store.read_trials().assign(cell=SECOND)
    free = {n: units[n] for n in store.read_best()["free_parameters"].iloc[0]}
    store.append_trials(trials, units=free)
    store.append_traces(store.read_traces().assign(cell=SECOND))
    best = store.read_best()
    store.write_best(list(best.to_dict("records")) + list(best.assign(cell=SECOND).to_dict("records")),
                     units=units)
    val = store.read_validation()
    store.write_validation(list(val.to_dict("records")) + list(val.assign(cell=SECOND).to_dict("records")))
    return root


@pytest.fixture(scope="session")
def traces_table(quick_results):
    """The traces of the quickstart fit read straight from the Parquet parts (pyarrow, no spikefit)."""
    return pq.read_table(quick_results / "traces").to_pandas()


@pytest.fixture(scope="session")
def quick_summary(quick_results):
    from spikefit.results.report import load_results, sweep_summary

    r = load_results(quick_results)
    return r, sweep_summary(r["traces"], r["validation"])
