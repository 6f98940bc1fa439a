"""The record keys of multipart uploads (node/objects/uploads.py) parse back unambiguously, whatever
the object key holds."""

import pytest

from node import errors
from node.objects import uploads

UPLOAD = "0190000000000" + "a" * 19


@pytest.mark.parametrize("key", ["k", "a/b/c", "ü \x01x", "\x01" + "b" * 32, "x\x0100001"])
def test_record_keys_parse_back(key):
    assert uploads.parse_record_key(uploads.upload_key(key, UPLOAD)) == (key, UPLOAD, None)
    assert uploads.parse_record_key(uploads.part_key(key, UPLOAD, 7)) == (key, UPLOAD, 7)


def test_other_keys_are_not_records():
    for text in ["plain", "k\x01short", "k\x01" + UPLOAD + "\x01123", "\x01" + UPLOAD]:
        assert uploads.parse_record_key(text) is None, text


def test_a_key_s_records_sort_upload_first_then_parts_in_order():
    keys = [uploads.part_key("k", UPLOAD, n) for n in (10, 2, 1)] + [uploads.upload_key("k", UPLOAD)]
    assert sorted(keys) == [uploads.upload_key("k", UPLOAD)] + [uploads.part_key("k", UPLOAD, n) for n in (1, 2, 10)]


def test_upload_ids_and_part_numbers_are_checked():
    with pytest.raises(errors.NoSuchUpload):
        uploads.check_upload_id("../../etc")
    for number in (0, uploads.PART_NUMBER_MAX + 1):
        with pytest.raises(errors.InvalidArgument):
            uploads.check_part_number(number)
