"""What the browser refuses before uploading, and what the composer then says: the largest
file one upload can carry (within the body cap) and react-dropzone's rejections as messages
with the file's name, its size and the limit. (In a browser: tests/e2e/test_guards.py.)"""

from __future__ import annotations

from app.services.attachment_checks import (
    PART_FRAMING_BYTES,
    UPLOAD_FRAMING_BYTES,
    AttachmentLimits,
    refused_in_browser,
)
from app.services.wiring import browser_upload_limits
from app.settings import Settings

LIMITS = AttachmentLimits(text_max_bytes=1_000_000, image_max_bytes=5_000_000, max_files=10)


def test_the_largest_file_is_the_largest_kind_within_a_share_of_the_body_cap() -> None:
    assert LIMITS.largest_file() == 5_000_000  # the default cap carries 10 of them
    # An operator's lower cap: ten files of the largest size still fit one upload.
    largest = LIMITS.largest_file(2_000_000)
    assert largest == (2_000_000 - UPLOAD_FRAMING_BYTES) // 10 - PART_FRAMING_BYTES
    assert 10 * (largest + PART_FRAMING_BYTES) + UPLOAD_FRAMING_BYTES <= 2_000_000
    assert LIMITS.largest_file(10) == 1  # a silly cap still gives a positive size
    # Within the browser's limits, one upload never exceeds the default body cap.
    most = LIMITS.max_files * (LIMITS.largest_file() + PART_FRAMING_BYTES) + UPLOAD_FRAMING_BYTES
    assert most <= LIMITS.upload_body_max_bytes


def test_the_limits_the_page_gets_come_from_the_settings() -> None:
    settings = Settings(attachment_image_max_bytes=3_000_000, attachment_max_files=4)
    assert browser_upload_limits(settings) == (3_000_000, 4)
    capped = Settings(upload_max_bytes=1_000_000, attachment_max_files=4)
    share = (1_000_000 - UPLOAD_FRAMING_BYTES) // 4 - PART_FRAMING_BYTES
    assert browser_upload_limits(capped) == (share, 4)


def test_each_refused_file_is_named_with_its_size_and_the_limit() -> None:
    rejected = [
        {"name": "huge.log", "size": 51_000_000, "errors": ["file-too-large"]},
        {"name": "../../etc/\x00passwd", "size": 6_200_000, "errors": ["file-too-large"]},
        {"name": "odd.bin", "size": 3, "errors": ["file-invalid-type"]},
    ]
    assert refused_in_browser(rejected, largest=5_000_000, max_files=10) == [
        "huge.log is 51 MB; the limit is 5 MB. Nothing was uploaded; attach a smaller file.",
        "passwd is 6.2 MB; the limit is 5 MB. Nothing was uploaded; attach a smaller file.",
        "odd.bin could not be attached. Try another file.",
    ]


def test_too_many_files_at_once_is_one_line() -> None:
    rejected = [{"name": f"n{i}.txt", "size": 1, "errors": ["too-many-files"]} for i in range(12)]
    assert refused_in_browser(rejected, largest=5_000_000, max_files=10) == [
        "12 files at once is more than one message can carry: attach at most 10 at a time."
    ]


def test_forged_rejections_are_read_as_data_only() -> None:
    forged: list = [None, 7, "x", {"name": 5, "size": "big", "errors": "file-too-large"}, {}]
    assert refused_in_browser(forged, largest=1, max_files=1) == [
        "5 could not be attached. Try another file.",
        "file could not be attached. Try another file.",
    ]
