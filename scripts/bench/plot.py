#!/usr/bin/env python3
"""Draws scripts/bench.sh's figures (its JSON on stdin) as a PNG: records/s per pipeline as
horizontal bars, and idle RSS, start-to-ready and failover seconds of Ferry and Kafka Connect.

usage: plot.py OUT.png < bench.json   (needs matplotlib; scripts/bench.sh --plot installs it)
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"raw librdkafka": "#8c8c8c", "ferry": "#d9541e", "Kafka Connect": "#3b6ea5"}
TITLES = {
    ("raw librdkafka", "produce"): "raw librdkafka produce",
    ("ferry", "source"): "Ferry FileStreamSource → Kafka",
    ("Kafka Connect", "source"): "Kafka Connect FileStreamSource → Kafka",
    ("raw librdkafka", "consume"): "raw librdkafka consume",
    ("ferry", "sink"): "Ferry Kafka → FileStreamSink",
    ("Kafka Connect", "sink"): "Kafka Connect Kafka → FileStreamSink",
    ("ferry", "source (JSON)"): "Ferry FileStreamSource → Kafka, JSON",
    ("Kafka Connect", "source (JSON)"): "Kafka Connect FileStreamSource → Kafka, JSON",
    ("ferry", "sink (JSON)"): "Ferry Kafka → FileStreamSink, JSON",
    ("Kafka Connect", "sink (JSON)"): "Kafka Connect Kafka → FileStreamSink, JSON",
    ("ferry", "sink (JSON, 3 transforms)"): "Ferry Kafka → FileStreamSink, JSON, 3 transforms",
    ("Kafka Connect", "sink (JSON, 3 transforms)"): "Kafka Connect Kafka → FileStreamSink, JSON, 3 transforms",
    # Kafka Connect's connect-file figures for these are its FileStream bars above (the same classes)
    ("ferry", "source (connect-file jar)"): "Ferry FileStreamSource → Kafka, connect-file jar",
    ("ferry", "sink (connect-file jar)"): "Ferry Kafka → FileStreamSink, connect-file jar",
    ("ferry", "debezium streaming"): "Ferry Debezium PostgreSQL → Kafka (changes/s)",
    ("Kafka Connect", "debezium streaming"): "Kafka Connect Debezium PostgreSQL → Kafka (changes/s)",
}


def main():
    out = sys.argv[1]
    result = json.load(sys.stdin)
    rows = [row for row in result["rows"] if row.get("records_per_s")]
    order = list(TITLES)
    rows.sort(key=lambda row: order.index((row["system"], row["pipeline"]))
              if (row["system"], row["pipeline"]) in order else len(order))
    labels = [TITLES.get((row["system"], row["pipeline"]), "Ferry " + row["pipeline"]) for row in rows]
    values = [row["records_per_s"] for row in rows]
    colors = [COLORS.get(row["system"], "#d9541e") for row in rows]

    figure = plt.figure(figsize=(11, 8.5), constrained_layout=True)
    grid = figure.add_gridspec(2, 3, height_ratios=[max(len(rows), 3) * 0.45 + 1, 2.6])
    bars = figure.add_subplot(grid[0, :])
    y = list(range(len(rows)))[::-1]
    bars.barh(y, values, color=colors)
    bars.set_yticks(y, labels)
    bars.set_xlabel("records/s (higher is better)")
    for yy, value in zip(y, values):
        bars.text(value, yy, " {:,.0f}".format(value), va="center", fontsize=9)
    bars.set_xlim(0, max(values) * 1.18 if values else 1)
    bars.set_title("%s records of %d bytes, %s, %s CPUs" % (
        "{:,}".format(result["records"]), result["record_bytes"], result["date"], result["machine"]["cpus"]))

    panels = [
        ("idle RSS (MB)", result["rss_mb"].get("ferry_idle"), result["rss_mb"].get("kafka_connect_idle"), None),
        ("start → ready (s)", result["ready_s"].get("ferry_health"), result["ready_s"].get("kafka_connect_health"), None),
        ("failover after kill -9 (s)", None, None, result["failover_s"]),
    ]
    for index, (title, ferry, connect, failover) in enumerate(panels):
        axis = figure.add_subplot(grid[1, index])
        axis.set_title(title, fontsize=10)
        axis.set_ylabel("lower is better", fontsize=8)
        if failover is None:
            names, heights, colors = ["Ferry", "Kafka Connect"], [ferry, connect], [COLORS["ferry"], COLORS["Kafka Connect"]]
        else:
            names, heights, colors = [], [], []
            for key, name, color in (
                ("ferry_default", "Ferry\ndefault", COLORS["ferry"]),
                ("ferry_delay_0", "Ferry\ndelay 0", COLORS["ferry"]),
                ("kafka_connect_default", "KC\ndefault", COLORS["Kafka Connect"]),
                ("kafka_connect_delay_0", "KC\ndelay 0", COLORS["Kafka Connect"]),
            ):
                names.append(name)
                heights.append(failover.get(key))
                colors.append(color)
        shown = [h if h is not None else 0 for h in heights]
        axis.bar(names, shown, color=colors)
        for x, height in enumerate(heights):
            axis.text(x, shown[x], "skipped" if height is None else "%.1f" % height, ha="center", va="bottom", fontsize=9)
        axis.set_ylim(0, max(shown + [1]) * 1.2)
        axis.tick_params(axis="x", labelsize=8)
    figure.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
