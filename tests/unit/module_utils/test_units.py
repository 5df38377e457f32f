import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.units import (
    UnitError,
    format_mib,
    parse_size_mib,
)


@pytest.mark.parametrize(
    ("text", "mib"),
    [("512", 512), ("512M", 512), ("512m", 512), ("1G", 1024), ("1.5g", 1536), ("1T", 1048576),
     ("10GiB", 10240), (100, 100), ("1", 4), ("5", 8), (" 20G ", 20480)],
)
def test_parse_size(text, mib):
    assert parse_size_mib(text) == mib


@pytest.mark.parametrize("text", ["12Q", "", "G", "-5", "1..2G", "abc", True])
def test_parse_size_rejects_and_names_value(text):
    with pytest.raises(UnitError) as err:
        parse_size_mib(text)
    assert repr(text) in str(err.value)


def test_format():
    assert format_mib(512) == "512M"
    assert format_mib(20480) == "20.0G"
    assert format_mib(1536, "g") == "1.5G"
    assert format_mib(1048576) == "1.0T"
