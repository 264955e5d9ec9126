import datetime as dt

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hall.v1 import common_pb2
from services.catalogue import load
from services.counter import forms

GS = list(load().matters["150602-GS-0001"].form_fields)
GH = list(load().matters["150602-GH-0001"].form_fields)
JS = list(load().matters["150602-JS-0001"].form_fields)


def field(fields, name):
    return next(f for f in fields if f.name == name)


@pytest.mark.parametrize("key, value, stored", [
    ("registered_capital", "50万", ("registered_capital_fen", "50000000")),   # yuan, by the name without its unit
    ("注册资本", 1234.5, ("registered_capital_fen", "123450")),               # by its label
    ("registered_capital_fen", "500", ("registered_capital_fen", "500")),     # the contract's name: fen as given
])
def test_money_in_yuan_or_fen(key, value, stored):
    req = forms.request_of({"matter": "150602-GS-0001", "fields": {key: value}}, GS, clerk_id="c")
    assert dict(req.fields) == dict([stored])


def test_metres_and_a_plot_ratio_become_centimetres_and_hundredths():
    req = forms.request_of({"matter": "150602-GH-0001", "fields": {"height": 21.5, "plot_ratio": 2.5,
                                                                    "land_use": "R2"}}, GH, clerk_id="c")
    assert dict(req.fields) == {"height_cm": "2150", "plot_ratio_x100": "250", "land_use": "R2"}


@given(st.integers(min_value=0, max_value=10**6))
def test_metres_with_two_decimals_convert_exactly(cm):
    assert forms.to_contract(field(GH, "height_cm"), f"{cm // 100}.{cm % 100:02d}", human=True) == str(cm)


def test_what_does_not_convert_is_refused_with_the_field():
    with pytest.raises(forms.FormError, match="建筑高度.*最多两位小数"):
        forms.to_contract(field(GH, "height_cm"), "21.555", human=True)
    with pytest.raises(forms.FormError, match="注册资本"):
        forms.to_contract(field(GS, "registered_capital_fen"), "很多", human=True)


def test_a_yaml_date_and_the_applicant(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"matter": "150602-JS-0001", "applicant": {"kind": "个人", "name": "张伟",
                                    "id_number": "11010519491231002X"},
                                    "fields": {"marriage_date": dt.date(2019, 10, 1), "child_order": 1}},
                                   allow_unicode=True), encoding="utf-8")
    req = forms.request_of(forms.read(path), JS, clerk_id="clerk-1", ticket_id="t1")
    assert req.fields["marriage_date"] == "2019-10-01" and req.fields["child_order"] == "1"
    assert req.applicant.kind == common_pb2.Applicant.KIND_PERSON and req.ticket_id == "t1"
    assert req.request_id and req.clerk_id == "clerk-1"


def test_unreadable_files_say_what_and_where(tmp_path):
    with pytest.raises(forms.FormError, match="读不到申请文件"):
        forms.read(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(forms.FormError, match="格式有误"):
        forms.read(bad)
    with pytest.raises(forms.FormError, match="不认识的项"):
        forms.request_of({"matter": "x", "feilds": {}}, [], clerk_id="c")
    with pytest.raises(forms.FormError, match="applicant.kind"):
        forms.request_of({"matter": "x", "applicant": {"kind": "alien"}}, [], clerk_id="c")
