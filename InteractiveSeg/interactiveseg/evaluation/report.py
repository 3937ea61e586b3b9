"""Summaries of the per-round rows: results.json, a Markdown table and a plot of Dice against round."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .methods import LABELS

GROUPS = ("seen", "unseen", "lesion", "all")
TARGETS = {"dice_seen": 0.92, "dice_unseen": 0.88, "lead_over_baselines": 0.05, "target_round": 3}


def _select(rows, group):
    return [r for r in rows if group == "all" or r["role"] == group]


def summarize(rows: list) -> dict:
    """Mean per method and round, per group; then the issue's targets, measured."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    rounds = sorted({r["round"] for r in rows})
    summary = {}
    for group in GROUPS:
        selected = _select(rows, group)
        if not selected:
            continue
        summary[group] = {"structures": len({(r["case"], r["value"]) for r in selected}), "methods": {}}
        for method in methods:
            per_round = {}
            for index in rounds:
                picked = [r for r in selected if r["method"] == method and r["round"] == index]
                if not picked:
                    continue
                distances = [r["hd95_mm"] for r in picked if r["hd95_mm"] is not None]
                per_round[str(index)] = {
                    "dice": round(float(np.mean([r["dice"] for r in picked])), 4),
                    "dice_median": round(float(np.median([r["dice"] for r in picked])), 4),
                    "nsd_2mm": round(float(np.mean([r.get("nsd_2mm", 0.0) for r in picked])), 4),
                    "hd95_mm": round(float(np.mean(distances)), 2) if distances else None,
                    "hd95_undefined": len(picked) - len(distances),  # an empty mask has no surface
                    "seconds": round(float(np.mean([r["seconds"] for r in picked])), 3),
                    "peak_mb": round(float(np.max([r["peak_mb"] for r in picked])), 1),
                }
            summary[group]["methods"][method] = per_round
    summary["targets"] = check_targets(rows, summary)
    summary["challenge"] = challenge_scores(rows)
    return summary


def challenge_scores(rows: list) -> dict:
    """Per method, the CVPR 2025 challenge's scores: DSC and NSD AUC over the correction rounds, final values.

    Per structure, then averaged; only meaningful for the cvpr25 robot's five rounds, but
    computed for any run with at least two correction rounds.
    """
    from .cvpr_robot import area_under_steps
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        per_structure = {}
        for r in rows:
            if r["method"] == method and r["round"] >= 1:
                step = (r["round"], r["dice"], r.get("nsd_2mm", 0.0))
                per_structure.setdefault((r["case"], r["value"]), []).append(step)
        if not per_structure or min(len(v) for v in per_structure.values()) < 2:
            continue
        scores = [(area_under_steps([d for _, d, _ in sorted(v)]), area_under_steps([n for _, _, n in sorted(v)]),
                   sorted(v)[-1][1], sorted(v)[-1][2]) for v in per_structure.values()]
        out[method] = {name: round(float(np.mean([s[n] for s in scores])), 4)
                       for n, name in enumerate(("dsc_auc", "nsd_auc", "dsc_final", "nsd_final"))}
    return out


def check_targets(rows: list, summary: dict) -> dict:
    target_round = str(min(TARGETS["target_round"], max(r["round"] for r in rows)))
    out = {"round": int(target_round)}

    def mean_dice(group, method, index):
        return summary.get(group, {}).get("methods", {}).get(method, {}).get(str(index), {}).get("dice")

    for group, key in (("seen", "dice_seen"), ("unseen", "dice_unseen")):
        value = mean_dice(group, "full", target_round)
        out[f"full_{key}"] = {"measured": value, "target": TARGETS[key],
                              "met": None if value is None else value >= TARGETS[key]}
    for baseline in ("growcut", "random_walker"):
        leads = {}
        for index in range(1, int(target_round) + 1):
            full, other = mean_dice("all", "full", index), mean_dice("all", baseline, index)
            if full is not None and other is not None:
                leads[str(index)] = round(full - other, 4)
        if leads:
            out[f"full_minus_{baseline}"] = {"per_round": leads, "target": TARGETS["lead_over_baselines"],
                                            "met": all(v >= TARGETS["lead_over_baselines"] for v in leads.values())}
    # Seconds per correction round, full method over Grow from seeds, on the same boxes in this run.
    full = [r["seconds"] for r in rows if r["method"] == "full" and r["round"] >= 1]
    grow = [r["seconds"] for r in rows if r["method"] == "growcut" and r["round"] >= 1]
    if full and grow:
        ratio = float(np.sum(full) / max(np.sum(grow), 1e-9))
        out["seconds_full_over_growcut"] = {"measured": round(ratio, 2), "target": 1.0, "met": ratio <= 1.0}
    return out


def write_json(path, rows: list, summary: dict, config: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"config": config, "summary": summary, "rows": rows}, indent=1) + "\n")
    return path


def markdown(summary: dict, command: str | None = None) -> str:
    lines = []
    roles = [g for g in GROUPS[:-1] if g in summary]
    for group in GROUPS:
        if group not in summary or (group == "all" and len(roles) == 1):  # "all" would repeat that one
            continue
        block = summary[group]
        rounds = sorted({int(k) for m in block["methods"].values() for k in m})
        header = "| Method | " + " | ".join(f"round {i}" for i in rounds) + " |"
        rule = "|---|" + "---:|" * len(rounds)
        for title, field, fmt in (("Dice", "dice", "{:.3f}"), ("NSD (2 mm)", "nsd_2mm", "{:.3f}"),
                                  ("Seconds", "seconds", "{:.2f}"), ("HD95 (mm)", "hd95_mm", "{:.1f}")):
            lines += [f"**{title}, {group} structures ({block['structures']})**", "", header, rule]
            for method, per_round in block["methods"].items():
                cells = []
                for i in rounds:
                    value = per_round.get(str(i), {}).get(field)
                    cells.append("n/a" if value is None else fmt.format(value))
                lines.append(f"| {LABELS.get(method, method)} | " + " | ".join(cells) + " |")
            lines.append("")
    targets = summary.get("targets", {})
    if targets:
        lines += [f"**Targets (round {targets['round']})**", ""]
        for key, value in targets.items():
            if isinstance(value, dict):
                measured = value.get("measured", value.get("per_round"))
                verdict = {True: "met", False: "not met", None: "no data"}[value["met"]]
                lines.append(f"- {key}: measured {measured}, target {value['target']}: {verdict}")
        lines.append("")
    challenge = summary.get("challenge", {})
    if challenge:
        lines += ["**Challenge scores (CVPR 2025 style: area under the correction rounds, final values)**", "",
                  "| Method | DSC AUC | NSD AUC | final DSC | final NSD |", "|---|---:|---:|---:|---:|"]
        for method, scores in challenge.items():
            lines.append(f"| {LABELS.get(method, method)} | {scores['dsc_auc']:.3f} | {scores['nsd_auc']:.3f} | "
                         f"{scores['dsc_final']:.3f} | {scores['nsd_final']:.3f} |")
        lines.append("")
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    return "\n".join(lines)


def plot(summary: dict, path) -> Path | None:
    """Dice against round, one line per method, one panel per structure group; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    groups = [g for g in ("seen", "unseen") if g in summary] or ["all"]
    figure, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.2), squeeze=False)
    for axis, group in zip(axes[0], groups):
        for method, per_round in summary[group]["methods"].items():
            rounds = sorted(int(k) for k in per_round)
            axis.plot(rounds, [per_round[str(i)]["dice"] for i in rounds], marker="o", label=LABELS.get(method, method))
        axis.set_title(f"{group} structures ({summary[group]['structures']})")
        axis.set_xlabel("round (0: box only, then one correction per round)")
        axis.set_ylabel("mean Dice")
        axis.set_ylim(0, 1)
        axis.set_xticks(rounds)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)

