"""Covariates found among the columns a map table leaves out of the features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortbench.data.covariates import attach_map_covariates
from cohortbench.errors import DataError

CLINICAL = pd.DataFrame({"age": [60.0, 70.0, 65.0]}, index=pd.Index(["s1", "s2", "s3"]))


def same_ids(values, source):
    return values


def test_a_summary_column_joins_the_clinical_table_by_subject():
    left_out = {"thick": ("lh.txt", pd.DataFrame({"eTIV": ["1500", "1400"]},
                                                  index=pd.Index(["s3", "s1"])))}
    clinical, decisions = attach_map_covariates(CLINICAL, ["age", "eTIV"], left_out, same_ids)
    assert clinical["eTIV"].tolist()[0] == 1400.0 and np.isnan(clinical["eTIV"].tolist()[1])
    assert clinical["eTIV"].tolist()[2] == 1500.0 and clinical["eTIV"].dtype == np.float64
    assert decisions == ["data.covariates: 'eTIV' is read from map 'thick' (lh.txt), whose "
                         "column is left out of the features; subjects without a row there "
                         "miss it."]
    unchanged, none = attach_map_covariates(CLINICAL, ["age"], left_out, same_ids)
    assert unchanged is CLINICAL and none == []


def test_two_maps_disagreeing_on_a_covariate_are_refused():
    left_out = {"lh": ("lh.txt", pd.DataFrame({"eTIV": ["1500"]}, index=pd.Index(["s1"]))),
                "rh": ("rh.txt", pd.DataFrame({"eTIV": ["1501"]}, index=pd.Index(["s1"])))}
    with pytest.raises(DataError, match="'eTIV' differs between map 'lh' .* and map 'rh'"):
        attach_map_covariates(CLINICAL, ["eTIV"], left_out, same_ids)
    left_out["rh"] = ("rh.txt", pd.DataFrame({"eTIV": ["1500"]}, index=pd.Index(["s1"])))
    clinical, _ = attach_map_covariates(CLINICAL, ["eTIV"], left_out, same_ids)
    assert clinical.loc["s1", "eTIV"] == 1500.0
