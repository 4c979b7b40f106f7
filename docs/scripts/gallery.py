"""Regenerate the gallery: run every gallery study with the project's own commands.

For each study this runs the command shown on its page (``bp-qiskit run jobs/<spec>`` and,
for the predictions page, ``bp-qiskit predict``), copies its figures to
``docs/gallery/figures/``, saves its printed output to ``docs/gallery/output/<name>.txt``, and
collects the numbers the pages quote into ``docs/gallery/gallery.json`` (the pages read them
as MyST substitutions, so a page cannot quote a number the run did not print). The outputs
are committed; ``tests/test_docs.py`` re-runs the cheap studies and compares them with the
committed output byte for byte.

Run: ``python docs/scripts/gallery.py [NAME ...]`` (all studies: about eight minutes on 2
cores).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"
BIN = Path(sys.executable).parent / "bp-qiskit"

# name -> (arguments after ``bp-qiskit``, figures to keep). "OUT" is the output folder.
STUDIES: dict[str, tuple[list[str], list[str]]] = {
    "seed": (["run", "jobs/seed_tutorial.toml"], ["variance.png"]),
    "mcclean_depth": (["run", "jobs/mcclean_depth.toml"], ["variance.png"]),
    "grant2019": (["run", "jobs/grant2019.toml"], ["comparison.png"]),
    "cerezo2021": (["run", "jobs/cerezo2021.toml"], ["comparison.png"]),
    "cost_concentration": (["run", "jobs/cost_concentration.toml"], ["variance.png"]),
    "noise": (["run", "jobs/noise_induced.toml"], ["variance.png"]),
    "shot_budget": (["run", "jobs/shot_budget.toml"], ["budget.png"]),
    "predicted": (
        [
            "predict",
            "jobs/cerezo2021.toml",
            "--qubits",
            "4,8,16,32,64,128,256,512,1000",
            "--layers",
            "4",
        ],
        ["predicted.png"],
    ),
    # McClean at L = 50 beside its measured range (n = 2..12), and beyond it.
    "predicted_deep": (
        ["predict", "jobs/mcclean2018.toml", "--qubits", "2,4,6,8,10,12,16,100,1000"],
        ["predicted.png"],
    ),
    "hardware": (["run", "jobs/ibm_hardware.toml"], ["variance.png"]),
    "alternating_mps": (["run", "jobs/alternating_mps.toml"], ["variance.png"]),
    "seed_mps": (["run", "jobs/seed_mps.toml"], []),
    # The memory target: the seed's global cost at n = 26 (a 1 GiB statevector).
    "seed26": (
        ["run", "jobs/seed_tutorial.toml", "--qubits", "26", "--samples", "4", "--no-plot"],
        [],
    ),
}


def normalise(text: str, out: Path, store: Path) -> str:
    """Output without what differs between runs: the folders and the store's study ids."""
    text = text.replace(str(out), "OUT").replace(str(store), "bp_qiskit.sqlite")
    return re.sub(r"\b[0-9a-f]{12}\b", "<study id>", text)


def run(name: str, workdir: Path) -> str:
    """Run one study's command; return its normalised output."""
    args, _ = STUDIES[name]
    out = workdir / name
    store = workdir / "store.sqlite"
    cmd = [str(BIN), *args, "--out", str(out), "--no-progress"]
    if args[0] == "run":
        cmd += ["--store", str(store)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return normalise(proc.stdout, out, store)


def numbers(name: str, out: Path, text: str) -> dict[str, str]:
    """The numbers the study's page quotes, formatted as the page shows them."""
    found: dict[str, str] = {}

    def fit(path: Path, key: str = "fit") -> dict[str, Any]:
        data: dict[str, Any] = json.loads(path.read_text())[key]
        return data

    if name in ("seed", "cost_concentration", "hardware"):
        f = fit(out / "results.json")
        found["slope"] = f"{f['slope']:.3f} ± {f['slope_se']:.3f}"
    if name == "seed":
        from bp_qiskit.core.references import seed_exact_variance

        found["exact_slope"] = f"{math.log(seed_exact_variance(3) / seed_exact_variance(2)):.3f}"
    if name == "cost_concentration":
        c = fit(out / "results.json", "cost_fit")
        found["cost_slope"] = f"{c['slope']:.3f} ± {c['slope_se']:.3f}"
    if name == "mcclean_depth":
        line = next(x for x in text.splitlines() if "2-design limit from" in x)
        found["limit_depths"] = line.split("from:", 1)[1].strip()
    if name == "grant2019":
        found["blocks_slope"] = _slope(fit(out / "results.json"))
        found["control_slope"] = _slope(fit(out / "control" / "results.json"))
    if name == "cerezo2021":
        for cost, path in (("global", out), ("local", out / "local")):
            series = json.loads((path / "results.json").read_text())["series"]
            for s in series:
                found[f"{cost}_slope_L{s['layers']}"] = _slope(s["fit"])
    if name == "noise":
        from bp_qiskit import StudySpec
        from bp_qiskit.execution.predict import predict_cell

        data = json.loads((out / "results.json").read_text())
        cells = data["cells"]
        zs = [  # values without error: exact, or a network that cut nothing
            (c["grad_var"] - c["predicted_grad_var"]) / c["grad_var_se"]
            for c in cells
            if c.get("predicted_method") in ("exact", "tensor_network")
            and not c.get("predicted_grad_var_se")
        ]
        found["max_z"] = f"{max(abs(z) for z in zs):.1f}"
        found["cells"] = str(len(zs))
        deep = max(cells, key=lambda c: (c["num_layers"], c["num_qubits"]))
        found["deep_cell"] = f"n = {deep['num_qubits']}, L = {deep['num_layers']}"
        found["deep_measured"] = f"{deep['grad_var']:.2e} ± {deep['grad_var_se']:.1e}"
        found["deep_predicted"] = f"{deep['predicted_grad_var']:.2e}"
        spec = data["spec"]
        clean = StudySpec.from_dict({**spec, "backend": {**spec["backend"], "options": {}}})
        noiseless = predict_cell(clean, deep["num_qubits"], deep["num_layers"])
        found["deep_noiseless"] = f"{noiseless.grad_var:.2e}"
    if name == "shot_budget":
        ratios = [p["achieved_rel_error"] / p["predicted_rel_error"] for p in
                  json.loads((out / "budget.json").read_text())["points"]]  # fmt: skip
        found["ratio_range"] = f"{min(ratios):.2f} to {max(ratios):.2f}"
    if name == "alternating_mps":
        (cell,) = json.loads((out / "results.json").read_text())["cells"]
        found["measured"] = f"{cell['grad_var']:.3e} ± {cell['grad_var_se']:.1e}"
        found["predicted"] = f"{cell['predicted_grad_var']:.3e}"
        from bp_qiskit.results import CellResult

        found["z"] = f"{CellResult.from_dict(cell).z():.1f}"
    if name in ("seed26", "seed_mps", "alternating_mps"):
        resources = json.loads((out / "resources.json").read_text())
        found["peak_mib"] = f"{resources['peak_memory_mib_max']:.0f}"
    if name == "predicted":
        rows = json.loads((out / "predicted.json").read_text())
        big = next(r for r in rows if r["num_qubits"] == 1000 and r["observable"] == "local")
        se = big["grad_var_se"]
        found["local_1000"] = f"{big['grad_var']:.3e}" + (f" ± {se:.1e}" if se else "")
        found["local_1000_method"] = big["method"]
        glob = next(r for r in rows if r["num_qubits"] == 1000 and r["observable"] == "global")
        log10 = glob["log10_grad_var"] if not glob["grad_var"] else math.log10(glob["grad_var"])
        exponent = math.floor(log10)
        found["global_1000"] = f"{10 ** (log10 - exponent):.2f}e{exponent}"
        found["global_1000_method"] = glob["method"]
    if name == "predicted_deep":
        rows = {r["num_qubits"]: r for r in json.loads((out / "predicted.json").read_text())}
        for n in (12, 100, 1000):
            r = rows[n]
            se = r["grad_var_se"]
            found[f"n{n}"] = f"{r['grad_var']:.4e}" + (f" ± {se:.1e}" if se else "")
            found[f"n{n}_method"] = r["method"]
    return {f"{name}_{k}": v for k, v in found.items()}


def _slope(f: dict[str, Any]) -> str:
    return f"{f['slope']:.3f} ± {f['slope_se']:.3f}"


def main(names: list[str]) -> None:
    """Regenerate the named studies (all by default) and merge their numbers."""
    (GALLERY / "figures").mkdir(parents=True, exist_ok=True)
    (GALLERY / "output").mkdir(parents=True, exist_ok=True)
    store = GALLERY / "gallery.json"
    values: dict[str, str] = json.loads(store.read_text()) if store.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in names or list(STUDIES):
            start = time.perf_counter()
            text = run(name, work)
            (GALLERY / "output" / f"{name}.txt").write_text(text, encoding="utf-8")
            for fig in STUDIES[name][1]:
                shutil.copyfile(work / name / fig, GALLERY / "figures" / f"{name}_{fig}")
            values.update(numbers(name, work / name, text))
            # Written after every study: a failure later loses nothing already run.
            store.write_text(
                json.dumps(dict(sorted(values.items())), indent=1) + "\n", encoding="utf-8"
            )
            print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
