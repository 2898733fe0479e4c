"""The device shown for a signed-in session on Account → Settings, from its user agent."""

from __future__ import annotations

import pytest

from smplat.services.account_settings import device_label

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox on Windows"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/119.0 Safari/537.36",
            "Chrome on macOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/119.0 Safari/537.36 Edg/119.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/119.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.4.0", "curl"),
        ("", "Unknown device"),
    ],
)
def test_the_device_label_names_browser_and_system(user_agent, label):
    assert device_label(user_agent) == label
