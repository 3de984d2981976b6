"""Each test starts with an empty record of switched-off fast paths."""

import pytest

from cohortbench import _compat


@pytest.fixture(autouse=True)
def fresh_switch_record():
    """A private :func:`cohortbench._compat.switched_off` record for each test.

    Not through ``monkeypatch``: tests call ``monkeypatch.undo()`` mid-way.
    """
    saved = _compat._SWITCHED_OFF.copy(), _compat._LATEST.copy()
    _compat.reset_switches()
    yield
    _compat.reset_switches()
    _compat._SWITCHED_OFF.update(saved[0])
    _compat._LATEST.update(saved[1])
