"""The SLA report as text: every per-source figure the JSON report holds and the docs list."""

from __future__ import annotations

from lakehouse import report

BUILT = {
    "run_date": "2025-03-02",
    "sources": [
        {
            "source": "app_events",
            "last_status": "succeeded",
            "last_run_id": "2025-03-02-0a1b2c3d4e5f",
            "landed": 12,
            "quarantined": 1,
            "in_silver": 9,
            "in_gold": None,
            "duplicates_dropped": 2,
            "late": 3,
            "lag_days_max": 2,
        },
        {
            "source": "ticket_events",
            "last_status": "no_data",
            "last_run_id": "2025-03-02-5f4e3d2c1b0a",
            "landed": 0,
            "quarantined": 0,
            "in_silver": 0,
            "in_gold": 0,
            "duplicates_dropped": None,
            "late": None,
            "lag_days_max": None,
        },
    ],
    "gold_freshness": [
        {
            "table": "fact_app_events_daily",
            "version": 4,
            "last_commit": None,
            "max_event_date": None,
        }
    ],
}


def test_the_text_report_shows_each_source_s_figures_in_a_table() -> None:
    assert report.render_text(BUILT).splitlines() == [
        "SLA report for ingest date 2025-03-02",
        "",
        "source         last_status  landed  quarantined  in_silver  in_gold  duplicates_dropped"
        "  late  lag_days_max",
        "app_events     succeeded    12      1            9          -        2                 "
        "  3     2",
        "ticket_events  no_data      0       0            0          0        -                 "
        "  -     -",
        "",
        "gold freshness:",
        "  fact_app_events_daily: version=4, last_commit=None, max_event_date=None",
    ]
