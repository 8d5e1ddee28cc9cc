"""make lint's advisory audit (.ci/audit.py): a found advisory fails unless ignored with a reason.

The advisory databases are not reachable from every machine, so the decisions are tested on reports
shaped like npm's and on the ignore-list parser; the network paths are exercised by make lint itself."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

REPORT = {
    "vulnerabilities": {
        "lodash": {
            "severity": "high",
            "via": [
                {
                    "source": 1,
                    "name": "lodash",
                    "title": "Prototype Pollution",
                    "severity": "high",
                    "url": "https://github.com/advisories/GHSA-aaaa-bbbb-cccc",
                    "range": "<4.17.21",
                },
                {
                    "source": 2,
                    "name": "lodash",
                    "title": "ReDoS",
                    "severity": "moderate",
                    "url": "https://github.com/advisories/GHSA-dddd-eeee-ffff",
                    "range": "<4.17.21",
                },
            ],
        },
        # A package vulnerable only through a dependency names it; the advisory itself is counted once.
        "some-lib": {"severity": "high", "via": ["lodash"]},
    }
}


def test_every_npm_advisory_fails_unless_ignored():
    found = audit.unignored_npm_advisories(REPORT, {})
    assert [a["title"] for a in found] == ["Prototype Pollution", "ReDoS"]
    found = audit.unignored_npm_advisories(REPORT, {"GHSA-aaaa-bbbb-cccc": "not reachable from web/"})
    assert [a["title"] for a in found] == ["ReDoS"]
    assert audit.unignored_npm_advisories({"vulnerabilities": {}}, {}) == []


def test_ignore_list_needs_a_reason(tmp_path, monkeypatch):
    listing = tmp_path / "audit-ignore.txt"
    listing.write_text("# comment\n\nGHSA-aaaa-bbbb-cccc  dev-only path, look again 2027-01\n")
    monkeypatch.setattr(audit, "IGNORE", listing)
    assert audit.ignored() == {"GHSA-aaaa-bbbb-cccc": "dev-only path, look again 2027-01"}
    listing.write_text("PYSEC-2024-1\n")
    with pytest.raises(SystemExit, match="no reason"):
        audit.ignored()


def test_the_committed_ignore_list_parses():
    assert isinstance(audit.ignored(), dict)
