"""Security regressions: each test replays a finding through the path an attacker uses."""
