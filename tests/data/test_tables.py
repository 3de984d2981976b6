"""Reading tables: formats, encodings, missing tokens, and the messages of each refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortbench.data.tables import find_id_column, read_table, subject_ids, to_numeric_block
from cohortbench.errors import DataError


def test_csv_cells_are_stripped_text_and_missing_tokens_become_nan(write):
    path = write("t.csv", "id,a,b,c\ns1, 1.5 ,n/a,x\ns2,,NA,NaN\ns3,nan,  ,N/A\n")
    df = read_table(path)
    assert list(df.columns) == ["id", "a", "b", "c"]
    assert df.loc[1, "a"] == "1.5" and df.loc[1, "c"] == "x"
    assert df.iloc[1:, 1:].isna().all().all()
    assert df.loc[1, "b"] is np.nan or pd.isna(df.loc[1, "b"])
    assert list(df.index) == [1, 2, 3]


@pytest.mark.parametrize("name", ["t.tsv", "t.txt"])
def test_tab_separated(write, name):
    df = read_table(write(name, "participant_id\troi 1\troi2\ns1\t1\t2\ns2\t3\t4\n"))
    assert list(df.columns) == ["participant_id", "roi 1", "roi2"]
    assert df["roi2"].tolist() == ["2", "4"]


def test_bom_semicolon_and_crlf_together(write):
    path = write("t.csv", "\ufeffid;a;b\r\ns1;1;2\r\ns2;3;4\r\n", newline="")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in path.read_bytes()
    df = read_table(path)
    assert list(df.columns) == ["id", "a", "b"]
    assert df["b"].tolist() == ["2", "4"]


def test_bom_alone_and_crlf_alone(write):
    assert list(read_table(write("b.csv", "\ufeffid,a\ns1,1\n")).columns) == ["id", "a"]
    df = read_table(write("c.csv", "id,a\r\ns1,1\r\ns2,2\r\n", newline=""))
    assert df["a"].tolist() == ["1", "2"]


def test_tsv_with_commas_in_names_keeps_tab(write):
    # more tabs than commas in the header: tab wins
    df = read_table(write("t.tsv", "id\tleft,cortex\tright\ns1\t1\t2\n"))
    assert list(df.columns) == ["id", "left,cortex", "right"]


def test_latin1_file_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("id,région\ns1,1\n".encode("latin-1"))
    assert list(read_table(path).columns) == ["id", "région"]


def test_parquet_keeps_exact_numbers_and_missing(tmp_path):
    frame = pd.DataFrame({"participant_id": ["s1", "s2"], "a": [0.1 + 0.2, np.nan], "n": [1, 2]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    df = read_table(path)
    assert pd.isna(df.loc[2, "a"])
    values = to_numeric_block(df[["a", "n"]], file=path, id_values=["s1", "s2"])
    assert values.loc[1, "a"] == 0.1 + 0.2  # exact round trip
    assert values["n"].tolist() == [1.0, 2.0]


def test_xlsx_single_sheet(tmp_path):
    path = tmp_path / "t.xlsx"
    pd.DataFrame({"id": ["s1", "s2"], "a": [1.5, None]}).to_excel(path, index=False)
    df = read_table(path)
    assert df["id"].tolist() == ["s1", "s2"]
    assert float(df.loc[1, "a"]) == 1.5 and pd.isna(df.loc[2, "a"])


def test_xlsx_several_sheets_needs_a_name(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"id": ["s1"], "a": [1]}).to_excel(writer, sheet_name="Clinical", index=False)
        pd.DataFrame({"id": ["s1"], "b": [2]}).to_excel(writer, sheet_name="Maps", index=False)
    with pytest.raises(DataError, match=r"book\.xlsx has sheets Clinical, Maps; .*`sheet:`"):
        read_table(path)
    assert list(read_table(path, sheet="Maps").columns) == ["id", "b"]
    with pytest.raises(DataError, match="no sheet 'Other'; its sheets are Clinical, Maps"):
        read_table(path, sheet="Other")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.csv does not exist"):
        read_table(tmp_path / "nothere.csv")


@pytest.mark.parametrize("text, phrase", [
    ("", "is empty"),
    ("id,a\n", "no data rows"),
    ("id,a\n,\n , \n", "no data rows"),
])
def test_empty_tables_are_refused(write, text, phrase):
    with pytest.raises(DataError, match=phrase):
        read_table(write("e.csv", text))


def test_unsupported_suffix_and_xls(write):
    with pytest.raises(DataError, match=r"unsupported file type '\.json'"):
        read_table(write("t.json", "{}"))
    with pytest.raises(DataError, match=r"\.xls workbook; save it as \.xlsx"):
        read_table(write("t.xls", "x"))


def test_duplicate_headers_are_named(write):
    with pytest.raises(DataError, match=r"duplicate column names roi1"):
        read_table(write("d.csv", "id,roi1,roi1\ns1,1,2\n"))


def test_ragged_rows_are_refused(write):
    with pytest.raises(DataError, match=r"r\.csv cannot be read as a comma-separated table"):
        read_table(write("r.csv", "id,a\ns1,1\ns2,1,2,3\n"))


def test_blank_rows_are_dropped_but_row_numbers_kept(write):
    df = read_table(write("b.csv", "id,a\ns1,1\n,\ns3,3\n"))
    assert list(df.index) == [1, 3]
    assert df["id"].tolist() == ["s1", "s3"]


def test_non_numeric_cell_names_file_row_subject_and_column(write):
    path = write("m.csv", "id,a,b\ns1,1,2\ns2,3,oops\n")
    df = read_table(path)
    with pytest.raises(DataError) as info:
        to_numeric_block(df[["a", "b"]], file=path, id_values=["s1", "s2"],
                         row_numbers=list(df.index))
    message = str(info.value)
    assert "m.csv" in message and "row 2" in message
    assert "subject 's2'" in message and "column 'b'" in message and "'oops'" in message


def test_decimal_comma_and_infinity_are_refused_with_hints(write):
    df = pd.DataFrame({"a": ["1,5"]})
    with pytest.raises(DataError, match="decimal comma"):
        to_numeric_block(df, file="f.csv", id_values=["s1"])
    with pytest.raises(DataError, match="'inf' is not a number"):
        to_numeric_block(pd.DataFrame({"a": ["inf"]}), file="f.csv", id_values=["s1"])


def test_numeric_block_is_float64_with_nan():
    df = pd.DataFrame({"a": ["1", np.nan, "2e3"], "b": [1, 2, 3]}, dtype=object)
    out = to_numeric_block(df, file="f", id_values=["x", "y", "z"])
    assert (out.dtypes == "float64").all()
    assert np.isnan(out.loc[1, "a"]) and out.loc[2, "a"] == 2000.0


def test_id_column_rules(write):
    with_pid = read_table(write("p.tsv", "x\tparticipant_id\ns\tsub-1\n"))
    assert find_id_column(with_pid, file="p.tsv") == "participant_id"
    freesurfer = read_table(write("fs.tsv", "lh.aparc.thickness\tbankssts\nsub-1\t2.5\n"))
    assert find_id_column(freesurfer, file="fs.tsv") == "lh.aparc.thickness"
    assert find_id_column(with_pid, file="p.tsv", id_column="x") == "x"
    with pytest.raises(DataError, match=r"p\.tsv has no ID column 'SubjID'.*x, participant_id"):
        find_id_column(with_pid, file="p.tsv", id_column="SubjID")


def test_empty_and_duplicate_ids_are_named(write):
    df = read_table(write("i.csv", "id,a\ns1,1\n,2\ns3,3\n"))
    with pytest.raises(DataError, match=r"i\.csv has no subject ID in column 'id' at row\(s\) 2"):
        subject_ids(df, "id", file="i.csv")
    df = read_table(write("d.csv", "id,a\ns1,1\n s2 ,2\ns2,3\ns1,4\n"))
    with pytest.raises(DataError, match=r"d\.csv has duplicate subject IDs in column 'id': s2, s1"):
        subject_ids(df, "id", file="d.csv")
    ok = read_table(write("ok.csv", "id,a\n s1 ,1\ns2,2\n"))
    assert subject_ids(ok, "id", file="ok.csv") == ["s1", "s2"]
