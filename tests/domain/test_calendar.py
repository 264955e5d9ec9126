"""The official calendar: chinese-calendar's years, the hall's data file checked at load, and a
typed error for a year nobody has published."""

import datetime as dt

import pytest

from services.domain.calendar import CalendarDataError, CalendarYearUnknown, build, official, parse_file

D = dt.date


def test_a_year_nobody_has_published_is_an_error_naming_the_year():
    with pytest.raises(CalendarYearUnknown) as err:
        official().is_working_day(D(2099, 3, 2))
    assert err.value.year == 2099 and "2099" in str(err.value)


def test_the_shipped_file_adds_nothing_the_package_does_not_have():
    assert official().years == build(None).years


def test_a_year_from_the_halls_file_extends_the_calendar(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text('[2099]\nnotice = "示例"\nholidays = [{ name = "元旦", days = "2099-01-01..2099-01-03" }]\n'
                    "workdays = [2099-01-04]\n", encoding="utf-8")  # 4 January 2099 is a Sunday
    calendar = build(path)
    assert not calendar.is_working_day(D(2099, 1, 2)) and calendar.holiday(D(2099, 1, 2)) == "元旦"
    assert calendar.is_working_day(D(2099, 1, 4)) and calendar.is_makeup_day(D(2099, 1, 4))
    assert calendar.is_working_day(D(2099, 1, 5)) and not calendar.is_working_day(D(2099, 1, 10))
    assert 2026 in calendar.years  # the package's years stay


def test_a_year_in_the_file_replaces_the_packages_year(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text("[2026]\nholidays = [2026-10-01]\n", encoding="utf-8")
    calendar = build(path)
    assert not calendar.is_working_day(D(2026, 10, 1)) and calendar.is_working_day(D(2026, 10, 2))


@pytest.mark.parametrize("text, problem", [
    ("[2099]\nworkdays = [2099-01-05]\n", "not a Saturday or Sunday"),       # a Monday
    ("[2099]\nholidays = [2099-01-01, 2099-01-01]\n", "listed twice"),
    ('[2099]\nholidays = ["2099-01-01..2099-01-03", 2099-01-02]\n', "listed twice"),
    ("[2099]\nworkdays = [2099-01-04, 2099-01-04]\n", "listed twice"),
    ("[2099]\nholidays = [2099-01-04]\nworkdays = [2099-01-04]\n", "both a holiday and a make-up"),
    ("[2099]\nholidays = [2098-12-31]\n", "not in 2099"),
    ('[2099]\nholidays = ["2099-01-03..2099-01-01"]\n', "ends before it starts"),
    ("[twenty]\nholidays = []\n", "named by the year"),
    ("[2099\n", "calendar"),
])
def test_a_malformed_calendar_file_is_refused_with_its_reason(text, problem):
    with pytest.raises(CalendarDataError, match=problem):
        parse_file(text, "calendar")
