"""The generation-synchronous CMA-ES behind the ``cmaes_batch`` sampler."""

import numpy as np
import pytest

from spikefit.search.batch_cmaes import BatchCMA, _mirror


def test_mirror_folds_into_the_unit_cube():
    z = np.array([-0.25, 0.3, 1.25, 2.5, -1.75])
    assert _mirror(z) == pytest.approx([0.25, 0.3, 0.75, 0.5, 0.25])


def test_generation_updates_only_when_complete_and_minimises():
    opt = BatchCMA(3, popsize=12, seed=0, sigma0=0.3)
    target = np.array([0.2, 0.7, 0.4])
    number = 0
    for gen in range(40):
        zs = opt.ask(100)
        assert len(zs) == 12 and all(((z >= 0) & (z <= 1)).all() for z in zs)
        assert opt.ask(5) == []  # the generation is fully asked
        for z in zs:
            opt.register(number, z)
            number += 1
        for i, z in enumerate(zs):
            assert opt.generation == gen
            # every third candidate "fails": it must not stall or crash the search
            opt.tell(number - 12 + i, None if i % 3 == 0 else float(np.sum((z - target) ** 2)))
        assert opt.generation == gen + 1
    best = opt.ask(12)
    assert np.mean([np.sum((z - target) ** 2) for z in best]) < 1e-3


def test_unknown_numbers_are_ignored_and_popsize_checked():
    opt = BatchCMA(2, popsize=4, seed=1)
    opt.tell(99, 1.0)  # a trial from before a resume
    assert opt.generation == 0 and opt.open
    with pytest.raises(ValueError, match="popsize"):
        BatchCMA(2, popsize=1)
